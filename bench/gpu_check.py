"""The GPU check of the PyTorch runtime, prepared to run as one script on a lent GPU machine
(PyTorch, no Rust, no network; see the device tool's README).

Prepare here (`bench/gpu_check.py prepare [IDX_DIR]`, needs the amalgam binary and an IDX
set, by default Debian's dataset-fashion-mnist, of which it takes 1,536 + 256 images): LeNet and ResNet-20
bundles with 2 family decoys, their plain jobs (`amalgam baseline --as-bundle`) and the index
of the real branch, into `bench/results/gpu/` (ignored by git; carry it with `python/`). Run
there (`bench/gpu_check.py run OUT_DIR`; `run OUT_DIR cpu` is a dry run here): trains each bundle and its plain job on CUDA with
deterministic algorithms, compares the real branch with the plain model (bitwise, else the
largest difference), trains the bundle on the CPU for images/s, runs torchrun over every GPU,
and writes `OUT_DIR/gpu-check.json`. Nothing is claimed that this file does not hold.

The runtime needs numpy there; if the machine lacks it, carry a wheel for its Python and
install it with `pip install --no-index --find-links DIR numpy` first. Outputs are `.pt`
files, so the safetensors package is not needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "results" / "gpu"
CASES = {
    "lenet": ["--model", "lenet", "--optimizer", "adam", "--lr", "0.002", "--batch-size", "128"],
    "resnet20": ["--model", "resnet20", "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--weight-decay", "5e-4",
                 "--schedule", "cosine-batches", "--crop-padding", "2", "--normalize", "--batch-size", "128"],
}


#: Training and test images carried: with 2 decoys the files stay under the device tool's
#: 64 MiB carry limit.
SUBSET = (1536, 256)


def write_subset(source: Path, target: Path) -> None:
    """The first SUBSET images of the IDX set in ``source`` (raw or gzip), as raw IDX files."""
    import gzip

    target.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "t10k"), SUBSET):
        for kind, item in (("images-idx3-ubyte", 28 * 28), ("labels-idx1-ubyte", 1)):
            name = f"{split}-{kind}"
            path = source / name if (source / name).exists() else source / f"{name}.gz"
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as f:
                header = f.read(16 if item > 1 else 8)
                body = f.read(n * item)
            dims = header[4:]
            (target / name).write_bytes(header[:4] + n.to_bytes(4, "big") + dims[4:] + body)


def prepare(amalgam: str, source: Path) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "data"
    write_subset(source, data)
    for name, settings in CASES.items():
        common = ["--epochs", "1", "--seed", "7", "--data", data, *settings]
        subprocess.run([amalgam, "augment", *common, "--decoys", "2", "--decoy-arch", "family",
                        "--bundle", WORK / f"{name}-bundle", "--key", WORK / f"{name}-key.json"], check=True)
        subprocess.run([amalgam, "baseline", *common, "--as-bundle", "--out", WORK / f"{name}-plain"], check=True)
        real = json.loads((WORK / f"{name}-key.json").read_text())["real_branch"]
        (WORK / f"{name}-real-branch").write_text(str(real))
        (WORK / f"{name}-key.json").unlink()  # the check needs the branch index only
    size = sum(f.stat().st_size for f in WORK.rglob("*") if f.is_file())
    print(f"prepared {WORK}: {size / 2**20:.1f} MiB to carry")


def train(bundle: Path, out: Path, device: str, torchrun: int = 0) -> float:
    """Trains; returns images/s of the training loop (from the JSONL log)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    command = [sys.executable, "-m", "amalgam_cloud", "train", bundle, "--out", out, "--device", device]
    if torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(torchrun), *command[1:]]
    subprocess.run([str(c) for c in command], check=True, env=env, timeout=240)
    log = [json.loads(l) for l in out.with_name(out.stem + ".log.jsonl").read_text().splitlines()]
    sys.path.insert(0, str(REPO / "python"))
    from amalgam_cloud import Bundle

    return len(Bundle(bundle).data("train")) * len(log) / sum(e["seconds"] for e in log)


def compare(trained: Path, plain: Path, real: int) -> dict:
    import torch

    def tensors(path):
        return torch.load(path, weights_only=True)["state_dict"]

    a, b = tensors(trained), tensors(plain)
    a = {k[len(f"branches.{real}."):]: v for k, v in a.items() if k.startswith(f"branches.{real}.")}
    b = {k[len("branches.0."):]: v for k, v in b.items()}
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in b)
    return {"bitwise": a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in b), "max_abs_difference": diff}


def run(out_dir: str, device: str) -> None:
    import torch

    out = Path(out_dir)
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
    start = time.time()
    for name in CASES:
        real = int((WORK / f"{name}-real-branch").read_text())
        bundle, plain = WORK / f"{name}-bundle", WORK / f"{name}-plain"
        case = {"device": device, "device_images_per_s": train(bundle, out / f"{name}-device.pt", device)}
        train(plain, out / f"{name}-plain-device.pt", device)
        case["device_exact"] = compare(out / f"{name}-device.pt", out / f"{name}-plain-device.pt", real)
        case["cpu_images_per_s"] = train(bundle, out / f"{name}-cpu.pt", "cpu")
        if torch.cuda.device_count() > 1:
            train(bundle, out / f"{name}-ddp.pt", "cuda", torchrun=torch.cuda.device_count())
            train(plain, out / f"{name}-plain-ddp.pt", "cuda", torchrun=torch.cuda.device_count())
            case["ddp_exact"] = compare(out / f"{name}-ddp.pt", out / f"{name}-plain-ddp.pt", real)
        report[name] = case
        for f in out.glob("*.pt"):
            f.unlink()
    report["seconds"] = time.time() - start
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"] and len(sys.argv) <= 4:
        source = Path(sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist")
        prepare(str(REPO / "target" / "release" / "amalgam"), source)
    elif sys.argv[1:2] == ["run"] and len(sys.argv) in (3, 4):
        run(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else "cuda")
    else:
        sys.exit("usage: gpu_check.py prepare [DATA_DIR] | gpu_check.py run OUT_DIR [DEVICE (default cuda)]")
