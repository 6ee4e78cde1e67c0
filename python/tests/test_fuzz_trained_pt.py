"""Mutation fuzzing of `.pt` trained weights as the owner reads them (issue 16): the `.pt` the
PyTorch runtime writes is mutated (the bundle fuzzer's byte flips, cuts, repeats, truncation
and numbers) and handed to `amalgam extract`. Each case must extract or be refused with an
error and a non-zero exit, never a panic, and a refused case leaves no output. Cases:
AMALGAM_FUZZ_CASES (default 40)."""

from __future__ import annotations

import os
import random
import struct
import zipfile

from conftest import amalgam, train_py
from test_fuzz_bundle import mutate


def test_mutated_pt_weights_extract_or_are_refused(tmp_path, image_data):
    bundle, key = tmp_path / "bundle", tmp_path / "key.json"
    amalgam("augment", "--data", image_data, "--model", "mlp", "--epochs", "1", "--bundle", bundle, "--key", key)
    train_py(bundle, tmp_path / "trained.pt")
    original = (tmp_path / "trained.pt").read_bytes()
    cases = int(os.environ.get("AMALGAM_FUZZ_CASES", 40))
    extracted = 0
    for case in range(cases):
        pt = tmp_path / "case.pt"
        pt.write_bytes(mutate(original, random.Random(case)))
        out = tmp_path / f"out-{case}"
        done = amalgam("extract", "--key", key, "--trained", pt, "--out", out, expect_ok=False)
        assert "panicked" not in done.stderr, f"case {case}: {done.stderr}"
        if done.returncode == 0:
            extracted += 1
            assert out.is_dir()
        else:
            assert done.returncode == 1 and done.stderr.startswith("error:"), f"case {case}: {done.stderr}"
            assert not out.exists(), f"case {case} left {out}"
    print(f"{cases} mutated .pt files: {extracted} extracted, {cases - extracted} refused")


def test_a_flipped_byte_in_any_tensor_data_is_refused(tmp_path, image_data):
    """burn's reader checks the CRC-32 of the storages it reads in full, but extraction reads
    only the real branch's tensors, so a flipped byte in a decoy's was extracted without a
    word. `extract` now checks every entry's CRC-32 first: accidental corruption anywhere in
    a `.pt` is refused, naming the entry."""
    bundle, key = tmp_path / "bundle", tmp_path / "key.json"
    amalgam("augment", "--data", image_data, "--model", "mlp", "--epochs", "1", "--bundle", bundle, "--key", key)
    trained = tmp_path / "trained.pt"
    train_py(bundle, trained)
    original = trained.read_bytes()
    with zipfile.ZipFile(trained) as archive:
        entries = [i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 0]
    assert len(entries) >= 4
    for entry in entries:
        data = bytearray(original)
        header = entry.header_offset
        name_len, extra_len = struct.unpack("<HH", data[header + 26 : header + 30])
        data[header + 30 + name_len + extra_len + entry.file_size // 2] ^= 0x10
        corrupt = tmp_path / "corrupt.pt"
        corrupt.write_bytes(bytes(data))
        out = tmp_path / "out"
        done = amalgam("extract", "--key", key, "--trained", corrupt, "--out", out, expect_ok=False)
        assert done.returncode == 1, f"{entry.filename}: {done.stderr}"
        assert "CRC-32" in done.stderr and entry.filename in done.stderr, done.stderr
        assert not out.exists()
    amalgam("extract", "--key", key, "--trained", trained, "--out", tmp_path / "good")
    assert (tmp_path / "good").is_dir()
