"""The augmented network the cloud trains: per branch an input filter (one gather with
indices built once; Amalgam, Taki & Mastorakis 2024, section 4), the optional per-epoch crop
and flip, and the branch's network (with its input stage). Its ``state_dict`` is named as
``init.safetensors``: ``branches.{i}.{param}``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import chacha
from .config import CropFlipConfig
from .networks import build_network
from .spec import positions


class InputFilter(nn.Module):
    """Gathers a branch's ``keep_indices`` from augmented samples: images ``[B, C, H', W']``
    to ``[B, C, H, W]``, tokens ``[B, L']`` to ``[B, L]``. Holds no weights."""

    def __init__(self, keep_indices: list, augmented: dict, output: dict):
        super().__init__()
        grid = positions(augmented)
        flat = np.concatenate([c * grid + np.asarray(row, dtype=np.int64) for c, row in enumerate(keep_indices)])
        self.register_buffer("indices", torch.from_numpy(flat), persistent=False)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        kept = x.reshape(batch, -1).index_select(1, self.indices)
        if self.output["kind"] == "image":
            return kept.reshape(batch, self.output["channels"], self.output["height"], self.output["width"])
        return kept


class CropFlip:
    """The per-epoch random crops (after zero padding) and horizontal flips of amalgam's
    training loop, drawn per sample and epoch exactly as ``amalgam train`` draws them
    (``crates/core/src/training/crop_flip.rs``)."""

    def __init__(self, config: CropFlipConfig):
        self.padding = config.padding
        self.seed = config.seed

    def indices(self, epoch: int, samples, shape: tuple, device) -> torch.Tensor:
        """Gather indices ``[B, C * H * W]`` into the padded images of the training-set
        samples ``samples`` (a batch) in ``epoch``, for images of ``shape = (C, H, W)``."""
        c, h, w = shape
        p = self.padding
        ph, pw = h + 2 * p, w + 2 * p
        dy, dx, flip = chacha.crop_flip_draws(self.seed, p, epoch, np.asarray(samples))
        dy, dx = torch.from_numpy(dy)[:, None, None, None], torch.from_numpy(dx)[:, None, None, None]
        flip = torch.from_numpy(flip)[:, None, None, None]
        ch = torch.arange(c)[None, :, None, None]
        y = torch.arange(h)[None, None, :, None]
        x = torch.arange(w)[None, None, None, :]
        sx = torch.where(flip, w - 1 - x, x)
        flat = (ch * ph + y + dy) * pw + sx + dx
        return flat.reshape(len(samples), -1).to(device)

    def apply(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Pads images ``[B, C, H, W]`` with zeros and gathers ``indices``."""
        b, c, h, w = images.shape
        p = self.padding
        padded = F.pad(images, (p, p, p, p))
        return padded.reshape(b, -1).gather(1, indices).reshape(b, c, h, w)


class AugmentedNetwork(nn.Module):
    """The augmented network of a bundle's ``model.json`` (a checked augmented spec).

    ``forward(x, crop_indices=None)`` takes augmented samples (images ``[B, C, H', W']`` in
    [0, 1], or token ids ``[B, L']`` int64) and returns one logits tensor ``[B, classes]`` per
    branch; ``crop_indices`` (from :meth:`CropFlip.indices`) applies the batch's crops and
    flips inside every branch, after its filter and before its input stage. The training
    loss is the sum of the branches' cross-entropies: with disjoint parameters each branch
    gets exactly the gradients it would get alone."""

    def __init__(self, spec: dict, crop_flip: CropFlipConfig | None = None):
        super().__init__()
        self.branches = nn.ModuleList(build_network(b["network"]) for b in spec["branches"])
        self.filters = nn.ModuleList(InputFilter(b["keep_indices"], spec["input"], b["network"]["input"]) for b in spec["branches"])
        self.crop_flip = CropFlip(crop_flip) if crop_flip is not None and spec["input"]["kind"] == "image" else None
        branch_input = spec["branches"][0]["network"]["input"]
        self.branch_shape = (
            (branch_input["channels"], branch_input["height"], branch_input["width"]) if branch_input["kind"] == "image" else None
        )

    def crop_indices(self, epoch: int, samples, device) -> torch.Tensor | None:
        """The batch's crop/flip indices, or None when the bundle has no crop/flip."""
        if self.crop_flip is None:
            return None
        return self.crop_flip.indices(epoch, samples, self.branch_shape, device)

    def forward(self, x: torch.Tensor, crop_indices: torch.Tensor | None = None) -> list[torch.Tensor]:
        out = []
        for keep, network in zip(self.filters, self.branches):
            view = keep(x)
            if crop_indices is not None:
                view = self.crop_flip.apply(view, crop_indices)
            out.append(network(view))
        return out
