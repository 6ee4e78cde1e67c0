"""Trained weights as the owner's ``amalgam extract`` reads them: safetensors with the bundle
fingerprint in the metadata, or a ``torch.save`` file holding the state dict and the
fingerprint."""

from __future__ import annotations

from pathlib import Path

import torch

from .bundle import FINGERPRINT_KEY
from .files import write_atomic


def plain_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors on the CPU, contiguous, without DistributedDataParallel's
    ``module.`` prefix."""
    module = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    return {name: t.detach().to("cpu").contiguous() for name, t in module.state_dict().items()}


def torch_save(obj, path) -> None:
    """``torch.save(obj)`` to ``path`` through a file object, so that the archive's root
    folder is ``archive`` rather than the name of the temporary file it is written to."""
    with open(path, "wb") as f:
        torch.save(obj, f)


def save_trained(path, model: torch.nn.Module, bundle_fingerprint: str) -> None:
    """Writes the trained augmented weights (``branches.{i}.{param}``) to ``path``
    atomically: safetensors with ``amalgam.bundle_fingerprint`` in the metadata, or, when the
    name ends in ``.pt``/``.pth``, ``torch.save({"state_dict": ..., "amalgam.bundle_fingerprint":
    ...})``. ``amalgam extract`` reads both and refuses another bundle's weights."""
    state = plain_state(model)
    if Path(path).suffix in (".pt", ".pth"):
        write_atomic(path, lambda tmp: torch_save({"state_dict": state, FINGERPRINT_KEY: bundle_fingerprint}, tmp))
    else:
        # Imported here: a machine without the safetensors package can still write `.pt`.
        from safetensors.torch import save_file

        write_atomic(path, lambda tmp: save_file(state, tmp, metadata={FINGERPRINT_KEY: bundle_fingerprint}))
