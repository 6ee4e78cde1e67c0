"""Training throughput of the cloud runtimes on CPU, measured in one run: `amalgam train`
(burn) against `python -m amalgam_cloud train` (PyTorch) on the same augmented bundles
(LeNet and ResNet-20, K = 1 clone decoy, interleave noise), and each runtime on the plain job
(`amalgam baseline --as-bundle`), so the augmented network's overhead in PyTorch shows.
Synthetic 28x28 IDX data (throughput does not depend on the pixels). Images/s counts
original training images per second of the training loop (the epochs' own timings, from the
JSONL logs), median over the epochs after the first. Writes a Markdown section into
BENCHMARKS.md (replacing an earlier one). Usage: python bench/cloud_runtimes.py AMALGAM_BINARY
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
HEADING = "## 5. Cloud runtimes: burn against the PyTorch runtime"
CASES = [("lenet", 4096, 4), ("resnet20", 512, 3)]
THREADS = 2


def write_idx(path, array):
    header = ((8 << 8) | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def run(*args, env=None):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{args} failed:\n{done.stderr}")


def images_per_second(log: Path, n: int) -> float:
    seconds = [json.loads(line)["seconds"] for line in log.read_text().splitlines()]
    return n / statistics.median(seconds[1:] or seconds)


def main():
    amalgam = Path(sys.argv[1])
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), RAYON_NUM_THREADS=str(THREADS))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model, n, epochs in CASES:
            data = tmp / f"data-{model}"
            data.mkdir()
            rng = np.random.default_rng(0)
            for split, count in (("train", n), ("t10k", 256)):
                write_idx(data / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
                write_idx(data / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
            common = ["--data", data, "--model", model, "--epochs", epochs, "--batch-size", 64]
            bundles = {"augmented (K = 1)": tmp / f"{model}-bundle", "plain": tmp / f"{model}-plain"}
            run(amalgam, "augment", *common, "--decoys", 1, "--bundle", bundles["augmented (K = 1)"], "--key", tmp / f"{model}.json")
            run(amalgam, "baseline", *common, "--as-bundle", "--out", bundles["plain"])
            for network, bundle in bundles.items():
                run(amalgam, "train", bundle, "--out", tmp / "burn.safetensors", "--log", tmp / "burn.jsonl", env=env)
                run(sys.executable, "-m", "amalgam_cloud", "train", bundle, "--out", tmp / "torch.safetensors",
                    "--log", tmp / "torch.jsonl", "--threads", THREADS, env=env)
                burn, py = images_per_second(tmp / "burn.jsonl", n), images_per_second(tmp / "torch.jsonl", n)
                rows.append(f"| {model} | {network} | {n} | {burn:.0f} | {py:.0f} | {py / burn:.2f}x |")
                for f in ("burn.safetensors", "torch.safetensors", "burn.jsonl", "torch.jsonl"):
                    (tmp / f).unlink()
    section = "\n".join([
        HEADING,
        "",
        f"Produced by `bench/cloud_runtimes.py` ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{THREADS} threads for both; PyTorch {torch.__version__} on CPU). Batch 64, Adam; images/s of the training loop, "
        "median over the epochs after the first. No GPU was measured: none was lent to the session that wrote this.",
        "",
        "| model | network | training images | amalgam train (burn) images/s | PyTorch runtime images/s | PyTorch / burn |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ])
    path = REPO / "BENCHMARKS.md"
    text = path.read_text()
    if HEADING in text:
        start = text.index(HEADING)
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
