"""Shared fixtures: the amalgam binary (built by `cargo test --release` / `cargo build
--release`), small synthetic data sets written in the formats amalgam reads, and helpers to run
both runtimes."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
#: Every command a test runs is bounded in time.
TIMEOUT_S = 600


def amalgam_binary() -> Path:
    path = Path(os.environ.get("AMALGAM_BIN", REPO / "target" / "release" / "amalgam"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it first (cargo build --release)")
    return path


def run(args, expect_ok=True, env=None):
    """Runs a command with the runtime on the path; returns the finished process."""
    full_env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), **(env or {}))
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=TIMEOUT_S, env=full_env)
    if expect_ok and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def amalgam(*args, expect_ok=True):
    return run([amalgam_binary(), *args], expect_ok)


def train_py(bundle, out, *extra, expect_ok=True):
    """`python -m amalgam_cloud train` with fixed threads (bitwise reproducibility)."""
    return run([sys.executable, "-m", "amalgam_cloud", "train", bundle, "--out", out, "--threads", "2", *extra], expect_ok)


def weights(path) -> dict:
    return load_file(str(path))


def branch(state: dict, index: int) -> dict:
    prefix = f"branches.{index}."
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def bitwise_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def _write_idx(path: Path, array: np.ndarray) -> None:
    dims = array.shape
    magic = (8 << 8) | len(dims)  # unsigned bytes, len(dims) dimensions
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def image_data(tmp_path_factory) -> Path:
    """A 4-class set of 16x16 grey images in the MNIST IDX layout (256 train, 64 test): each
    class a bright bar in its own place, with noise."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("images")

    def make(n):
        labels = rng.integers(0, 4, n)
        images = rng.integers(0, 90, (n, 16, 16))
        for i, label in enumerate(labels):
            images[i, 2 + 3 * label : 5 + 3 * label, 3:13] += 150
        return images.clip(0, 255), labels

    for split, n in (("train", 256), ("t10k", 64)):
        images, labels = make(n)
        _write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        _write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def text_data(tmp_path_factory) -> Path:
    """A 2-class CSV of short texts (320 rows; every fifth is a test sample): each class draws
    most words from its own vocabulary."""
    rng = np.random.default_rng(1)
    shared = [f"w{i}" for i in range(30)]
    own = [[f"a{i}" for i in range(20)], [f"b{i}" for i in range(20)]]
    rows = ["text,label"]
    for _ in range(320):
        label = int(rng.integers(0, 2))
        words = [str(rng.choice(own[label] if rng.random() < 0.6 else shared)) for _ in range(int(rng.integers(5, 14)))]
        rows.append(f"{' '.join(words)},{'pos' if label else 'neg'}")
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    return path
