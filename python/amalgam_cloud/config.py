"""The training config of a bundle (``train.json``), checked, with amalgam's learning-rate
schedules (burn's schedulers, ``crates/core/src/training/config.rs``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from .errors import BundleError

TRAIN_FORMAT_VERSION = 1
#: Most epochs a bundle may ask for (the learning-rate table is per batch).
MAX_EPOCHS = 1_000_000
#: Largest crop padding, in pixels.
MAX_CROP_PADDING = 1024
#: Largest batch size.
MAX_BATCH_SIZE = 1 << 20


@dataclass(frozen=True)
class CropFlipConfig:
    """Random crop after zero padding by ``padding`` pixels, and horizontal flip, per sample
    and epoch, drawn from ``seed``."""

    padding: int
    seed: int


@dataclass(frozen=True)
class TrainConfig:
    """``train.json``: epochs, batch size, optimizer, schedule, crop/flip, batch-order seed."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str
    momentum: float
    weight_decay: float
    schedule: dict
    crop_flip: Optional[CropFlipConfig]
    batch_order_seed: int

    @staticmethod
    def parse(value, path) -> "TrainConfig":
        """The config in the JSON ``value`` read from ``path``; ``BundleError`` naming the
        problem otherwise."""

        def fail(problem):
            raise BundleError(path, problem)

        if not isinstance(value, dict):
            fail("is not a JSON object")
        if value.get("format_version") != TRAIN_FORMAT_VERSION:
            fail(f"format_version {value.get('format_version')!r} is not supported (expected {TRAIN_FORMAT_VERSION})")

        def integer(name, low, high, default=None):
            v = value.get(name, default)
            if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
                fail(f"`{name}` must be an integer in [{low}, {high}], got {v!r}")
            return v

        def number(name, ok, default=None):
            v = value.get(name, default)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not ok(v):
                fail(f"`{name}` is out of range: {v!r}")
            return float(v)

        optimizer = value.get("optimizer")
        if optimizer not in ("sgd", "adam", "adamw"):
            fail(f"unknown optimizer {optimizer!r}")
        schedule = value.get("schedule", {"kind": "constant"})
        kind = schedule.get("kind") if isinstance(schedule, dict) else None
        if kind not in ("constant", "cosine", "step", "cosine-batches"):
            fail(f"unknown schedule {schedule!r}")
        if kind == "step":
            every, gamma = schedule.get("every"), schedule.get("gamma")
            if not (isinstance(every, int) and every >= 1 and isinstance(gamma, (int, float)) and 0 < gamma <= 1):
                fail("a step schedule needs `every` >= 1 and `gamma` in (0, 1]")
        crop = value.get("crop_flip")
        crop_flip = None
        if crop is not None:
            if not isinstance(crop, dict):
                fail("`crop_flip` is not an object")
            padding, seed = crop.get("padding"), crop.get("seed")
            if not (isinstance(padding, int) and 0 <= padding <= MAX_CROP_PADDING and isinstance(seed, int) and 0 <= seed < 1 << 64):
                fail(f"`crop_flip` needs a padding in [0, {MAX_CROP_PADDING}] and a u64 seed")
            crop_flip = CropFlipConfig(padding, seed)
        return TrainConfig(
            epochs=integer("epochs", 1, MAX_EPOCHS),
            batch_size=integer("batch_size", 1, MAX_BATCH_SIZE),
            learning_rate=number("learning_rate", lambda v: 0 < v <= 1),
            optimizer=optimizer,
            momentum=number("momentum", lambda v: 0 <= v < 1, 0.0),
            weight_decay=number("weight_decay", lambda v: v >= 0, 0.0),
            schedule=schedule,
            crop_flip=crop_flip,
            batch_order_seed=integer("batch_order_seed", 0, (1 << 64) - 1),
        )

    def learning_rate_at(self, epoch: int, step: int, batches: int) -> float:
        """The rate of batch ``step`` (of ``batches``) in ``epoch`` (from 0), as burn's
        schedulers give it: cosine annealing to 0 over the epochs (or over every batch), or
        ``gamma ** (epoch // every)``."""
        lr, kind = self.learning_rate, self.schedule["kind"]
        if kind == "constant":
            return lr
        if kind == "cosine":
            return 0.5 * lr * (1.0 + math.cos(epoch / self.epochs * math.pi))
        if kind == "cosine-batches":
            total = max(self.epochs * batches, 1)
            return 0.5 * lr * (1.0 + math.cos((epoch * batches + step) / total * math.pi))
        return lr * self.schedule["gamma"] ** (epoch // self.schedule["every"])

    def optimizer_for(self, parameters) -> torch.optim.Optimizer:
        """A fresh optimizer over ``parameters``: SGD (momentum without dampening, L2 weight
        decay), Adam (betas 0.9/0.999, epsilon 1e-8, L2 weight decay) or AdamW (decoupled
        weight decay). Each updates every element from its own gradient and state only, so
        the branches never influence each other."""
        params = list(parameters)
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate, momentum=self.momentum, dampening=0.0, weight_decay=self.weight_decay)
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=self.weight_decay)
        return torch.optim.AdamW(params, lr=self.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=self.weight_decay)
