"""The owner's extracted model in PyTorch: a model directory (``model.json`` and
``model.safetensors``, as ``amalgam extract`` and ``amalgam baseline`` write them) as an
``nn.Module``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .bundle import check_state
from .errors import BundleError
from .files import mapped_tensors, read_json
from .networks import Network, build_network
from .spec import check_model_spec


def load_model(directory, device="cpu") -> Network:
    """The model in ``directory``, in eval mode on ``device``: the original architecture
    rebuilt from ``model.json`` with ``model.safetensors`` loaded strictly. It takes what the
    owner's data holds (images ``[B, C, H, W]`` in [0, 1] or token ids ``[B, L]``) and returns
    logits ``[B, classes]``; its input stage normalises as amalgam's does.

    Raises :class:`BundleError` naming the file for a bad spec or mismatched weights."""
    directory = Path(directory)
    spec = check_model_spec(read_json(directory / "model.json"), directory / "model.json")
    weights = mapped_tensors(directory / "model.safetensors")
    try:
        with torch.device("meta"):
            skeleton = build_network(spec)
    except (ValueError, RuntimeError, TypeError, KeyError, ZeroDivisionError) as e:
        raise BundleError(directory / "model.json", f"describes a network that cannot be built: {e}") from None
    check_state(skeleton.state_dict(), weights, directory / "model.safetensors")
    network = build_network(spec)
    network.load_state_dict({n: torch.from_numpy(np.array(a)) for n, a in weights.items()}, strict=True)
    return network.to(device).eval()
