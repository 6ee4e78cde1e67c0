"""``python -m amalgam_cloud``: train an amalgam bundle with PyTorch, on CPU or GPU, in one
process or under ``torchrun`` (DistributedDataParallel)."""

from __future__ import annotations

import argparse
import sys

import torch
import torch.distributed as dist

from .errors import BundleError
from .training import Ranks, make_deterministic, train_bundle


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m amalgam_cloud",
        description="The cloud's side of amalgam in PyTorch: trains a bundle (model.json, init.safetensors, "
        "train.json, data.safetensors) exactly as `amalgam train` does, and reads nothing else.",
    )
    commands = p.add_subparsers(dest="command", required=True)
    t = commands.add_parser(
        "train",
        help="train a bundle into trained augmented weights",
        description="Trains BUNDLE; writes the trained augmented weights (safetensors with the bundle fingerprint, "
        "or a torch.save file if OUT ends in .pt) and a per-epoch JSONL log. Checkpoints after every epoch in "
        "OUT.checkpoint/. Under torchrun, runs DistributedDataParallel (NCCL on GPU, gloo on CPU).",
    )
    t.add_argument("bundle", metavar="BUNDLE", help="the bundle directory")
    t.add_argument("--out", required=True, metavar="TRAINED", help="trained weights to write (.safetensors, or .pt)")
    t.add_argument("--log", metavar="FILE", help="per-epoch JSONL log (default: OUT's stem + .log.jsonl)")
    t.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu; under torchrun, cuda means each rank's own GPU)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint of a stopped run")
    t.add_argument("--stop-after", type=int, metavar="EPOCH", help="stop after this epoch, keeping the checkpoint")
    t.add_argument("--threads", type=int, metavar="N", help="CPU threads (fixed for bitwise reproducibility; default: PyTorch's)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    ranks = Ranks.from_environment()
    make_deterministic(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but PyTorch sees no GPU", file=sys.stderr)
        return 1
    if ranks.world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", ranks.local)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        log, finished = train_bundle(args.bundle, args.out, args.log, device, args.resume, args.stop_after, ranks)
    except (BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if ranks.world > 1:
            dist.destroy_process_group()
    if ranks.rank == 0:
        for entry in log:
            losses = " ".join(f"{l:.4f}" for l in entry["branch_loss"])
            print(f"epoch {entry['epoch']:>3}  {entry['seconds']:>7.1f} s  branch losses {losses}")
        if finished:
            print(f"trained weights {args.out}")
        else:
            print(f"stopped after epoch {len(log)}; continue with --resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
