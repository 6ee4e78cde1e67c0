"""The networks amalgam supports, rebuilt in PyTorch from a model spec (``model.json``)."""

from __future__ import annotations

from .base import BatchNorm, Network
from .images import Lenet, Mlp, Resnet, Vgg
from .text import Bag, Gru, TextCnn, Transformer

FAMILIES = {
    "mlp": Mlp,
    "lenet": Lenet,
    "resnet": Resnet,
    "vgg": Vgg,
    "bag": Bag,
    "textcnn": TextCnn,
    "gru": Gru,
    "transformer": Transformer,
}


def build_network(spec: dict) -> Network:
    """The network of a model spec (a validated ``ModelSpec`` as JSON), with PyTorch's default
    initialisation: load amalgam's weights into it with ``load_state_dict(..., strict=True)``.

    Raises ``ValueError`` for an architecture this runtime does not know."""
    kind = spec["architecture"]["kind"]
    if kind not in FAMILIES:
        raise ValueError(f"unknown architecture `{kind}` (known: {', '.join(FAMILIES)})")
    return FAMILIES[kind](spec)


__all__ = ["BatchNorm", "FAMILIES", "Network", "build_network"]
