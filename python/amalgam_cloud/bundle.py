"""A bundle directory, opened and checked: ``model.json``, ``init.safetensors``,
``train.json`` and ``data.safetensors`` (see ``crates/core/src/bundle.rs``). The runtime reads
nothing else and holds nothing secret."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import chacha
from .augmented import AugmentedNetwork
from .config import TrainConfig
from .errors import BundleError
from .files import mapped_tensors, read_json, regular_file_size
from .spec import check_augmented_spec

MODEL_FILE = "model.json"
INIT_FILE = "init.safetensors"
TRAIN_FILE = "train.json"
DATA_FILE = "data.safetensors"
#: Metadata key, in trained weight files, of the fingerprint of the bundle they came from.
FINGERPRINT_KEY = "amalgam.bundle_fingerprint"


def fingerprint(directory: Path) -> str:
    """SHA-256 (hex) over ``model.json``, ``init.safetensors`` and ``train.json``, as
    ``amalgam`` computes it."""
    digest = hashlib.sha256()
    for name in (MODEL_FILE, INIT_FILE, TRAIN_FILE):
        regular_file_size(directory / name)
        with open(directory / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_state(expected: dict, found: dict, path) -> None:
    """``BundleError`` unless ``found`` (name -> array) has exactly the names and shapes of
    ``expected`` (name -> tensor) in f32."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise BundleError(path, f"tensors do not match the network: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, tensor in expected.items():
        array = found[name]
        if tuple(array.shape) != tuple(tensor.shape) or array.dtype != np.float32:
            raise BundleError(path, f"`{name}` is {array.dtype} {list(array.shape)}, expected float32 {list(tensor.shape)}")


@dataclass
class SampleArrays:
    """One split of ``data.safetensors``: samples ``[N, ...]`` (memory-mapped; f32 or f16
    images, or u32 tokens) and labels ``[N]`` (u8, in memory)."""

    samples: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples ``indices`` as tensors on ``device``: inputs (f32 images, or int64 token
        ids) and int64 labels."""
        indices = np.asarray(indices, dtype=np.int64)
        rows = np.asarray(self.samples[indices])
        x = torch.from_numpy(rows.astype(np.int64) if rows.dtype == np.uint32 else rows.astype(np.float32, copy=False))
        y = torch.from_numpy(self.labels[indices].astype(np.int64))
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


class Bundle:
    """An opened bundle: ``spec`` (``model.json``), ``train`` (a :class:`TrainConfig`),
    ``fingerprint``. Every file is checked on opening; the data is mapped, not read."""

    def __init__(self, directory):
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise BundleError(self.dir, "is not a bundle directory")
        self.spec = check_augmented_spec(read_json(self.dir / MODEL_FILE), self.dir / MODEL_FILE)
        self.train = TrainConfig.parse(read_json(self.dir / TRAIN_FILE), self.dir / TRAIN_FILE)
        self.fingerprint = fingerprint(self.dir)
        self._init = mapped_tensors(self.dir / INIT_FILE)
        # Built on the meta device, the network allocates nothing: its tensor shapes are
        # compared with the initial weights (which exist on disk) before anything is real.
        try:
            with torch.device("meta"):
                skeleton = self._network()
        except (ValueError, RuntimeError, TypeError, KeyError, ZeroDivisionError) as e:
            raise BundleError(self.dir / MODEL_FILE, f"describes a network that cannot be built: {e}") from None
        check_state(skeleton.state_dict(), self._init, self.dir / INIT_FILE)
        self._data = self._map_data()

    def _network(self) -> AugmentedNetwork:
        return AugmentedNetwork(self.spec, self.train.crop_flip)

    def network(self, device="cpu") -> AugmentedNetwork:
        """The augmented network on ``device`` with the bundle's initial weights, loaded
        strictly (every tensor of ``init.safetensors``, nothing else)."""
        network = self._network()
        state = {name: torch.from_numpy(np.array(array)) for name, array in self._init.items()}
        network.load_state_dict(state, strict=True)
        return network.to(device)

    def _map_data(self) -> dict[str, SampleArrays]:
        path = self.dir / DATA_FILE
        tensors = mapped_tensors(path)
        shape = self.spec["input"]
        kind = "images" if shape["kind"] == "image" else "tokens"
        sample = [shape["channels"], shape["height"], shape["width"]] if kind == "images" else [shape["length"]]
        # PrivyNet bundles may store their features as f16 (the spec says so); batches widen
        # them to f32, exactly, as `amalgam train` does.
        dtype = (np.float16 if self.spec.get("precision") == "f16" else np.float32) if kind == "images" else np.uint32
        splits = {}
        for split in ("train", "test"):
            samples, labels = tensors.get(f"{split}.{kind}"), tensors.get(f"{split}.labels")
            if samples is None or labels is None:
                raise BundleError(path, f"`{split}.{kind}` or `{split}.labels` is missing")
            if labels.dtype != np.uint8 or labels.ndim != 1 or samples.dtype != dtype or list(samples.shape) != [len(labels)] + sample:
                raise BundleError(
                    path,
                    f"`{split}.{kind}` is {samples.dtype} {list(samples.shape)} and `{split}.labels` {labels.dtype} {list(labels.shape)}; "
                    f"expected {np.dtype(dtype)} {['N'] + sample} and uint8 [N]",
                )
            labels = np.array(labels)
            if len(labels) and int(labels.max()) >= self.spec["classes"]:
                raise BundleError(path, f"`{split}.labels` holds label {int(labels.max())}, out of range for {self.spec['classes']} classes")
            if kind == "tokens":
                vocab = shape["vocab_size"]
                for start in range(0, len(samples), 1 << 16):
                    top = int(samples[start : start + (1 << 16)].max(initial=0))
                    if top >= vocab:
                        raise BundleError(path, f"`{split}.tokens` holds token id {top}, out of range for a vocabulary of {vocab}")
            splits[split] = SampleArrays(samples, labels)
        if len(splits["train"]) == 0:
            raise BundleError(path, "has no training samples")
        return splits

    def data(self, split: str = "train") -> SampleArrays:
        """The ``train`` or ``test`` split."""
        return self._data[split]

    def batches(self) -> int:
        """Batches per epoch."""
        return -(-len(self._data["train"]) // self.train.batch_size)

    def batch_order(self, epoch: int) -> np.ndarray:
        """The order in which ``epoch`` (from 0) visits the training samples, as
        ``amalgam train`` draws it; batches are consecutive chunks of it."""
        n = len(self._data["train"])
        return chacha.shuffled(n, self.train.batch_order_seed, chacha.stream_id(chacha.BATCH_ORDER, epoch))


class BundleDataset(torch.utils.data.Dataset):
    """A split of a bundle as a PyTorch ``Dataset`` of ``(sample, label, index)``; use it with
    :class:`BatchOrderSampler` as the ``batch_sampler`` to visit the bundle's batch order."""

    def __init__(self, bundle: Bundle, split: str = "train"):
        self.arrays = bundle.data(split)

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int):
        x, y = self.arrays.batch([index], "cpu")
        return x[0], y[0], index


class BatchOrderSampler(torch.utils.data.Sampler):
    """The batches of one epoch in the bundle's batch order; under distributed training,
    rank ``rank`` of ``world`` gets its contiguous share of every global batch."""

    def __init__(self, bundle: Bundle, epoch: int, rank: int = 0, world: int = 1):
        self.order = bundle.batch_order(epoch)
        self.size = bundle.train.batch_size
        self.rank, self.world = rank, world

    def __iter__(self):
        for start in range(0, len(self.order), self.size):
            yield np.array_split(self.order[start : start + self.size], self.world)[self.rank].tolist()

    def __len__(self) -> int:
        return -(-len(self.order) // self.size)
