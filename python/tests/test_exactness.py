"""Exactness in PyTorch: a bundle trained by the runtime, then extracted, equals the original
model trained plainly by the same runtime (same initial weights, batch order and transforms),
bitwise; and it stops being equal when the branches are coupled."""

from __future__ import annotations

import json
import zipfile

import pytest
import torch

from amalgam_cloud import Bundle
from amalgam_cloud.augmented import AugmentedNetwork
from amalgam_cloud.training import make_deterministic, train_bundle

from conftest import amalgam, bitwise_equal, branch, train_py, weights

CASES = {
    "lenet": ["--model", "lenet", "--optimizer", "adam", "--lr", "0.002"],
    "resnet20": [
        "--model", "resnet20", "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9",
        "--weight-decay", "5e-4", "--schedule", "cosine", "--crop-padding", "2", "--normalize",
    ],
    "gru": ["--task", "text", "--model", "gru", "--sequence-length", "16", "--optimizer", "adam", "--lr", "0.005"],
}


def make_pair(tmp_path, data, training):
    """A bundle with 2 family decoys and its key, and the plain job as a one-branch bundle."""
    common = ["--data", data, "--epochs", "2", "--batch-size", "32", "--seed", "3", *training]
    amalgam("augment", *common, "--decoys", "2", "--decoy-arch", "family", "--bundle", tmp_path / "bundle", "--key", tmp_path / "key.json")
    amalgam("baseline", *common, "--as-bundle", "--out", tmp_path / "plain")
    return tmp_path / "bundle", tmp_path / "key.json", tmp_path / "plain"


@pytest.mark.parametrize("case", sorted(CASES))
def test_extracted_model_equals_plain_training_bitwise(tmp_path, image_data, text_data, case):
    data = text_data if case == "gru" else image_data
    bundle, key, plain = make_pair(tmp_path, data, CASES[case])
    train_py(bundle, tmp_path / "trained.safetensors")
    train_py(plain, tmp_path / "plain.safetensors")
    amalgam("extract", "--key", key, "--trained", tmp_path / "trained.safetensors", "--out", tmp_path / "extracted")
    extracted = weights(tmp_path / "extracted" / "model.safetensors")
    plain_trained = branch(weights(tmp_path / "plain.safetensors"), 0)
    assert bitwise_equal(extracted, plain_trained)
    # Training changed the weights: the comparison is not between two copies of the init.
    init = branch(weights(plain / "init.safetensors"), 0)
    assert not bitwise_equal(init, plain_trained)
    log = [json.loads(l) for l in (tmp_path / "trained.log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and len(log[0]["branch_loss"]) == 3


def test_coupled_branches_break_exactness(tmp_path, image_data, monkeypatch):
    """The same comparison fails when every branch's logits also see the others' (1e-3 of
    them): the test detects coupling."""
    bundle, key, plain = make_pair(tmp_path, image_data, CASES["lenet"])
    original = AugmentedNetwork.forward

    def coupled(self, x, crop_indices=None):
        logits = original(self, x, crop_indices)
        total = sum(logits)
        return [l + 1e-3 * (total - l) for l in logits]

    make_deterministic(2)
    train_py(plain, tmp_path / "plain.safetensors")
    monkeypatch.setattr(AugmentedNetwork, "forward", coupled)
    train_bundle(bundle, tmp_path / "trained.safetensors", show_progress=False)
    amalgam("extract", "--key", key, "--trained", tmp_path / "trained.safetensors", "--out", tmp_path / "extracted")
    extracted = weights(tmp_path / "extracted" / "model.safetensors")
    assert not bitwise_equal(extracted, branch(weights(tmp_path / "plain.safetensors"), 0))


def test_resumed_run_equals_uninterrupted_run_bitwise(tmp_path, image_data):
    bundle, _, _ = make_pair(tmp_path, image_data, CASES["resnet20"])
    train_py(bundle, tmp_path / "whole.safetensors")
    stopped = train_py(bundle, tmp_path / "resumed.safetensors", "--stop-after", "1")
    assert "continue with --resume" in stopped.stdout and not (tmp_path / "resumed.safetensors").exists()
    refused = train_py(bundle, tmp_path / "resumed.safetensors", expect_ok=False)
    assert refused.returncode == 1 and "--resume" in refused.stderr
    train_py(bundle, tmp_path / "resumed.safetensors", "--resume")
    assert bitwise_equal(weights(tmp_path / "whole.safetensors"), weights(tmp_path / "resumed.safetensors"))
    assert not (tmp_path / "resumed.safetensors.checkpoint").exists()


def test_torch_save_output_extracts_and_foreign_weights_are_refused(tmp_path, image_data):
    bundle, key, _ = make_pair(tmp_path, image_data, CASES["lenet"])
    train_py(bundle, tmp_path / "trained.pt")
    train_py(bundle, tmp_path / "trained.safetensors")
    # The archive's root folder is torch's default, not the temporary file's name.
    assert {n.split("/")[0] for n in zipfile.ZipFile(tmp_path / "trained.pt").namelist()} == {"archive"}
    amalgam("extract", "--key", key, "--trained", tmp_path / "trained.pt", "--out", tmp_path / "from-pt")
    amalgam("extract", "--key", key, "--trained", tmp_path / "trained.safetensors", "--out", tmp_path / "from-st")
    assert bitwise_equal(weights(tmp_path / "from-pt" / "model.safetensors"), weights(tmp_path / "from-st" / "model.safetensors"))
    # A bare state dict cannot be tied to the bundle; another bundle's fingerprint is refused.
    state = torch.load(tmp_path / "trained.pt", weights_only=True)
    torch.save(state["state_dict"], tmp_path / "bare.pt")
    bare = amalgam("extract", "--key", key, "--trained", tmp_path / "bare.pt", "--out", tmp_path / "x", expect_ok=False)
    assert bare.returncode != 0 and "amalgam.bundle_fingerprint" in bare.stderr
    state["amalgam.bundle_fingerprint"] = "0" * 64
    torch.save(state, tmp_path / "foreign.pt")
    foreign = amalgam("extract", "--key", key, "--trained", tmp_path / "foreign.pt", "--out", tmp_path / "y", expect_ok=False)
    assert foreign.returncode != 0 and "does not belong" in foreign.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert Bundle(bundle).fingerprint == json.loads(key.read_text())["bundle_fingerprint"]


def test_prefetching_loader_trains_bitwise_the_same(tmp_path, image_data):
    """The background loader (on by default on GPUs) hands the loop the very same batches."""
    bundle, _, _ = make_pair(tmp_path, image_data, CASES["resnet20"])
    make_deterministic(2)
    train_bundle(bundle, tmp_path / "inline.safetensors", show_progress=False, prefetch=False)
    train_bundle(bundle, tmp_path / "prefetched.safetensors", show_progress=False, prefetch=True)
    assert bitwise_equal(weights(tmp_path / "inline.safetensors"), weights(tmp_path / "prefetched.safetensors"))
