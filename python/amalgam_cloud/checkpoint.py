"""Checkpoints of a training run, one per finished epoch, so that a stopped run continues
exactly where it stopped (``--resume``). In ``<trained output>.checkpoint/``: ``epoch-N.pt``
(the network's and the optimizer's state) and ``state.json`` (written last: the epochs done,
their log and the bundle fingerprint). Every file is written atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .errors import BundleError
from .files import read_json, write_atomic
from .weights import torch_save

CHECKPOINT_FORMAT_VERSION = 1
STATE_FILE = "state.json"


def checkpoint_dir(out) -> Path:
    """The checkpoint directory of the trained output ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


def _epoch_file(directory: Path, epoch: int) -> Path:
    return directory / f"epoch-{epoch}.pt"


def has_checkpoint(directory: Path) -> bool:
    """Whether ``directory`` holds a complete checkpoint (a run killed while writing its
    first one leaves none, and starts afresh)."""
    return (directory / STATE_FILE).is_file()


def save(directory: Path, fingerprint: str, model, optimizer, log: list) -> None:
    """Saves the run after ``len(log)`` epochs, then removes the previous epoch's file."""
    directory.mkdir(parents=True, exist_ok=True)
    epoch = len(log)
    module = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    write_atomic(_epoch_file(directory, epoch), lambda tmp: torch_save({"model": module.state_dict(), "optimizer": optimizer.state_dict()}, tmp))
    state = {"format_version": CHECKPOINT_FORMAT_VERSION, "bundle_fingerprint": fingerprint, "epochs_done": epoch, "log": log}
    write_atomic(directory / STATE_FILE, lambda tmp: Path(tmp).write_text(json.dumps(state)))
    if epoch > 0:
        _epoch_file(directory, epoch - 1).unlink(missing_ok=True)


def load(directory: Path, fingerprint: str, model, optimizer, device) -> list:
    """Loads the checkpoint in ``directory`` into ``model`` and ``optimizer`` and returns the
    log of the epochs done. ``BundleError`` if it is missing, malformed, or another bundle's."""
    if not has_checkpoint(directory):
        raise BundleError(directory, "holds no checkpoint to resume from (run without --resume)")
    state = read_json(directory / STATE_FILE)
    if not isinstance(state, dict) or state.get("format_version") != CHECKPOINT_FORMAT_VERSION or not isinstance(state.get("log"), list) or state.get("epochs_done") != len(state["log"]):
        raise BundleError(directory / STATE_FILE, "is not a valid checkpoint state")
    if state.get("bundle_fingerprint") != fingerprint:
        raise BundleError(directory / STATE_FILE, "belongs to a run of another bundle (fingerprints differ)")
    path = _epoch_file(directory, state["epochs_done"])
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(saved["model"], strict=True)
        optimizer.load_state_dict(saved["optimizer"])
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
        raise BundleError(path, f"cannot be loaded into this bundle's network: {e}") from None
    return state["log"]


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
