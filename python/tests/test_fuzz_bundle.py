"""Mutation fuzzing of the runtime's bundle reader: byte flips, interesting bytes, cuts,
repeats, truncation and JSON numbers swapped for extreme ones, in every bundle file. Each
mutated bundle must either open (and then build its network and run a training step) or be
refused with a BundleError: no other exception. Cases: AMALGAM_FUZZ_CASES (default 150)."""

from __future__ import annotations

import os
import random
import re
import shutil

import numpy as np
import pytest
import torch.nn.functional as F

from amalgam_cloud import Bundle, BundleError

from conftest import amalgam

FILES = ["model.json", "train.json", "init.safetensors", "data.safetensors"]
NUMBERS = [b"0", b"-1", b"4294967296", b"9223372036854775808", b"18446744073709551615", b"1e308", b"0.5", b"65535"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not data:
            break
        at = rng.randrange(len(data))
        kind = rng.randrange(6)
        if kind == 0:
            data[at] ^= rng.randrange(1, 256)
        elif kind == 1:
            data[at] = rng.choice([0, 0xFF, 0x7F, 0x80, ord("9"), ord('"')])
        elif kind == 2:
            del data[at : at + rng.randint(1, 64)]
        elif kind == 3:
            data[at:at] = data[at : at + rng.randint(1, 64)]
        elif kind == 4:
            del data[at:]
        else:
            runs = list(re.finditer(rb"-?\d+", bytes(data)))
            if runs:
                run = rng.choice(runs)
                data[run.start() : run.end()] = rng.choice(NUMBERS)
    return bytes(data)


def test_mutated_bundles_open_and_train_or_are_refused(tmp_path, image_data):
    good = tmp_path / "good"
    amalgam("augment", "--data", image_data, "--model", "lenet", "--epochs", "1", "--bundle", good, "--key", tmp_path / "key.json")
    originals = {name: (good / name).read_bytes() for name in FILES}
    cases = int(os.environ.get("AMALGAM_FUZZ_CASES", 150))
    opened = 0
    for case in range(cases):
        rng = random.Random(case)
        work = tmp_path / "case"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(good, work)
        name = rng.choice(FILES)
        (work / name).write_bytes(mutate(originals[name], rng))
        try:
            bundle = Bundle(work)
        except BundleError:
            continue
        opened += 1
        model = bundle.network()
        data = bundle.data("train")
        x, y = data.batch(np.arange(min(4, len(data))), "cpu")
        loss = sum(F.cross_entropy(l, y) for l in model(x, model.crop_indices(0, np.arange(len(y)), "cpu")))
        loss.backward()
    print(f"{cases} mutated bundles: {opened} opened and trained a step, {cases - opened} refused with BundleError")
