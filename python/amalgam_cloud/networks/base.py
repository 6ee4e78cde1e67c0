"""What every network shares: the input stage, BatchNorm with burn's running statistics, and
the family dispatch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: BatchNorm's running-statistics momentum and epsilon (burn's defaults, as PyTorch's).
BN_MOMENTUM = 0.1
BN_EPSILON = 1e-5


class Network(nn.Module):
    """A network of one branch (or the owner's model): the spec's input stage (per-channel
    normalisation ``(x - mean[c]) / std[c]`` of images ``[B, C, H, W]`` in [0, 1], if the spec
    has one), then the layers. Its ``state_dict`` holds exactly the tensors of amalgam's
    ``ModelSpec::parameters`` (PyTorch names and layouts); the stage holds none."""

    def __init__(self, spec: dict):
        super().__init__()
        norm = spec.get("normalization")
        if norm is not None:
            shape = (1, len(norm["mean"]), 1, 1)
            self.register_buffer("input_mean", torch.tensor(norm["mean"], dtype=torch.float32).reshape(shape), persistent=False)
            self.register_buffer("input_std", torch.tensor(norm["std"], dtype=torch.float32).reshape(shape), persistent=False)
        else:
            self.input_mean = None
            self.input_std = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, classes]`` for images ``[B, C, H, W]`` (f32, [0, 1]) or token ids
        ``[B, L]`` (int64)."""
        if self.input_mean is not None:
            x = (x - self.input_mean) / self.input_std
        return self.logits(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class BatchNorm(nn.Module):
    """BatchNorm over the channels of ``[B, C, ...]`` as burn computes it: batch statistics in
    training, running statistics otherwise, and running statistics updated with the *biased*
    batch variance (PyTorch's ``BatchNorm2d`` uses the unbiased one, and adds a
    ``num_batches_tracked`` buffer that amalgam's weights do not have)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, BN_EPSILON)
        dims = [0] + list(range(2, x.dim()))
        with torch.no_grad():
            var, mean = torch.var_mean(x, dim=dims, unbiased=False)
            self.running_mean.mul_(1 - BN_MOMENTUM).add_(mean * BN_MOMENTUM)
            self.running_var.mul_(1 - BN_MOMENTUM).add_(var * BN_MOMENTUM)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, BN_EPSILON)


def global_average(x: torch.Tensor) -> torch.Tensor:
    """Mean over the spatial positions of ``[B, C, H, W]``: ``[B, C]``. (A mean rather than
    ``adaptive_avg_pool2d``, whose CUDA backward has no deterministic implementation.)"""
    return x.mean(dim=(2, 3))
