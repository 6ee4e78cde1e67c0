"""Split networks (PrivyNet's split learning; ``crates/core/src/model/split.rs``): a
splittable network is a sequence of stages and a classifier; a spec's ``split`` says which
part of it is built. Tensor names are always those of the whole network.

- ``cloud``: stages ``point..`` and the classifier; the input is the feature map of the kept
  channels, and the first layer of stage ``point`` takes that many channels.
- ``local``: stages ``..point``; gives the feature map (no classifier).
- ``composed``: everything; the kept channels of the feature map are selected at ``point``.
"""

from __future__ import annotations

import torch


class StagePlan:
    """Which stages a spec builds and how its forward pass runs."""

    def __init__(self, spec: dict, stages: int):
        self.stages = stages
        split = spec.get("split")
        if split is None:
            self.point, self.part, self.kept = None, None, None
            return
        if not isinstance(split, dict) or not isinstance(split.get("part"), dict):
            raise ValueError("`split` needs a point and a part")
        self.point, self.part = split.get("point"), split["part"].get("kind")
        if not isinstance(self.point, int) or not 1 <= self.point <= stages:
            raise ValueError(f"split point {self.point!r} is not one of 1..{stages}")
        if self.part not in ("local", "cloud", "composed"):
            raise ValueError(f"unknown split part {self.part!r}")
        self.kept = split["part"].get("kept_channels") if self.part == "composed" else None
        if self.part == "composed" and (
            not isinstance(self.kept, list) or not self.kept or not all(isinstance(c, int) and c >= 0 for c in self.kept)
        ):
            raise ValueError("a composed model needs its kept channels")

    def builds(self, stage: int) -> bool:
        """Whether stage ``stage`` (the classifier is stage ``stages``) is built."""
        if self.part == "local":
            return stage < self.point
        if self.part == "cloud":
            return stage >= self.point
        return True

    def input_width(self, stage: int, natural: int, input_channels: int) -> int:
        """Channels entering ``stage``: ``natural``, or the kept channels' count where they enter."""
        if stage == self.point and self.part == "cloud":
            return input_channels
        if stage == self.point and self.part == "composed":
            return len(self.kept)
        return natural

    def forward(self, x: torch.Tensor, stage, classify) -> torch.Tensor:
        """Logits: the built stages (selecting the kept channels of a composed model at its
        split point), then the classifier."""
        if self.part == "local":
            raise ValueError("a local part has no classifier")
        first = self.point if self.part == "cloud" else 0
        for s in range(first, self.stages + 1):
            if self.part == "composed" and s == self.point:
                x = x.index_select(1, torch.tensor(self.kept, device=x.device))
            if s < self.stages:
                x = stage(s, x)
        return classify(x)
