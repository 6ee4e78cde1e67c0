"""amalgam's training loop in PyTorch: the bundle's batch order, crops and flips, learning
rates and optimizer, one step per batch on the sum of the branches' cross-entropies
(``crates/core/src/training/train.rs``). Under ``torchrun`` it runs DistributedDataParallel:
each rank takes its contiguous share of every global batch, and the loss is scaled so that
the averaged gradient is the global batch's mean, as in one process."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import checkpoint
from .bundle import Bundle
from .errors import BundleError
from .files import write_atomic
from .progress import Progress
from .weights import save_trained


@dataclass(frozen=True)
class Ranks:
    """This process's place in a distributed run (``torchrun`` sets ``RANK``,
    ``WORLD_SIZE`` and ``LOCAL_RANK``); rank 0 of 1 otherwise."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @staticmethod
    def from_environment() -> "Ranks":
        return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


def make_deterministic(threads: int | None) -> None:
    """Deterministic kernels (warning, not failing, where an op has none), no cuDNN
    autotuning, and a fixed number of CPU threads: the conditions of bitwise exactness."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if threads:
        torch.set_num_threads(threads)


def check_batches_split(n: int, batch_size: int, world: int) -> None:
    """Every global batch (the last one too) must give each rank at least one sample."""
    last = n % batch_size or batch_size
    if world > 1 and min(batch_size, n, last) < world:
        raise ValueError(f"a batch of {min(batch_size, n, last)} samples cannot be split across {world} processes")


def _load(data, module, epoch: int, local, pin: bool):
    """One rank's share of a batch on the CPU: inputs, labels and crop/flip indices (pinned
    for a fast copy to a GPU when ``pin``)."""
    x, y = data.batch(local, "cpu")
    crop = module.crop_indices(epoch, local, "cpu")
    if pin:
        x, y = x.pin_memory(), y.pin_memory()
        crop = crop.pin_memory() if crop is not None else None
    return x, y, crop


def _epoch_batches(data, module, epoch: int, order, size: int, ranks: Ranks, prefetch: bool, pin: bool):
    """Yields ``(global batch size, inputs, labels, crop indices)`` for every batch of the
    epoch, on the CPU. With ``prefetch``, a background thread prepares the next batch while
    the current one trains (the same values, so exactness is unaffected); ``pin`` pins them
    for a GPU."""
    shares = [
        (len(batch), np.array_split(batch, ranks.world)[ranks.rank])
        for batch in (order[start : start + size] for start in range(0, len(order), size))
    ]
    if not prefetch:
        for length, local in shares:
            yield (length, *_load(data, module, epoch, local, pin))
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load, data, module, epoch, shares[0][1], pin)
        for step, (length, _) in enumerate(shares):
            loaded = pending.result()
            if step + 1 < len(shares):
                pending = pool.submit(_load, data, module, epoch, shares[step + 1][1], pin)
            yield (length, *loaded)


def train_epochs(bundle: Bundle, model, optimizer, device, log: list, stop_after: int, on_epoch, ranks: Ranks = Ranks(), progress=None, prefetch: bool | None = None) -> list:
    """Trains from the epoch after the last one in ``log`` up to epoch ``stop_after`` (at
    most the bundle's epochs) and returns the log: per epoch, each branch's mean
    cross-entropy (nats per sample) and the wall time. ``on_epoch(log)`` runs after every
    epoch (to checkpoint). ``prefetch`` (default: on a GPU) prepares the next batch in a
    background thread."""
    data, config = bundle.data("train"), bundle.train
    module = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    device = torch.device(device)
    prefetch = device.type == "cuda" if prefetch is None else prefetch
    n, size = len(data), config.batch_size
    batches = bundle.batches()
    check_batches_split(n, size, ranks.world)
    model.train()
    for epoch in range(len(log), min(stop_after, config.epochs)):
        start = time.perf_counter()
        sums = torch.zeros(len(module.branches), dtype=torch.float64, device=device)
        order = bundle.batch_order(epoch)
        loaded = _epoch_batches(data, module, epoch, order, size, ranks, prefetch, device.type == "cuda")
        for step, (length, x, y, crop) in enumerate(loaded):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            crop = crop.to(device, non_blocking=True) if crop is not None else None
            logits = model(x, crop)
            if ranks.world == 1:
                losses = [F.cross_entropy(l, y) for l in logits]
                sums += torch.stack(losses).detach().double() * length
            else:
                local_sums = [F.cross_entropy(l, y, reduction="sum") for l in logits]
                sums += torch.stack(local_sums).detach().double()
                losses = [s * (ranks.world / length) for s in local_sums]
            total = losses[0]
            for loss in losses[1:]:
                total = total + loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            rate = config.learning_rate_at(epoch, step, batches)
            for group in optimizer.param_groups:
                group["lr"] = rate
            optimizer.step()
            if progress is not None:
                progress.advance(f"epoch {epoch + 1}/{config.epochs}")
        if ranks.world > 1:
            dist.all_reduce(sums)
        log.append({"epoch": epoch + 1, "branch_loss": (sums / n).tolist(), "seconds": time.perf_counter() - start})
        on_epoch(log)
    return log


def train_bundle(bundle_dir, out, log_path=None, device="cpu", resume=False, stop_after=None, ranks: Ranks = Ranks(), show_progress=True, prefetch=None):
    """The cloud's whole job, as ``amalgam train`` does it: trains the bundle, checkpoints
    after every epoch into ``<out>.checkpoint/``, and when every epoch is done writes the
    trained weights to ``out`` (with the bundle fingerprint) and one JSON line per epoch to
    ``log_path`` (default ``<out>.log.jsonl``), then removes the checkpoint. Returns
    ``(log, finished)``. Under ``torchrun`` only rank 0 writes. ``prefetch``: see
    :func:`train_epochs`."""
    if stop_after is not None and stop_after < 1:
        raise ValueError("--stop-after needs an epoch of at least 1")
    out, device = Path(out), torch.device(device)
    log_path = Path(log_path) if log_path else out.with_name(out.stem + ".log.jsonl")
    if log_path.resolve() == out.resolve():
        raise ValueError("the log and the trained weights must be different files")
    for path in (out, log_path):
        if not path.resolve().parent.is_dir():
            raise BundleError(path, "its directory does not exist")
    bundle = Bundle(bundle_dir)
    model = bundle.network(device)
    optimizer = bundle.train.optimizer_for(model.parameters())
    directory = checkpoint.checkpoint_dir(out)
    if resume:
        log = checkpoint.load(directory, bundle.fingerprint, model, optimizer, device)
    elif checkpoint.has_checkpoint(directory):
        raise BundleError(directory, "holds the checkpoint of an earlier run: pass --resume to continue it, or remove it")
    else:
        log = []
    if ranks.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    epochs = bundle.train.epochs
    last = min(stop_after or epochs, epochs)
    progress = Progress((last - len(log)) * bundle.batches(), "training", show_progress and ranks.rank == 0)

    def on_epoch(log):
        if ranks.rank == 0:
            checkpoint.save(directory, bundle.fingerprint, model, optimizer, log)

    log = train_epochs(bundle, model, optimizer, device, log, last, on_epoch, ranks, progress, prefetch)
    progress.finish()
    finished = len(log) == epochs
    if finished and ranks.rank == 0:
        save_trained(out, model, bundle.fingerprint)
        lines = "".join(json.dumps(entry) + "\n" for entry in log)
        write_atomic(log_path, lambda tmp: Path(tmp).write_text(lines))
        checkpoint.remove(directory)
    return log, finished
