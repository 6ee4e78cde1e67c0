"""The runtime reproduces `amalgam train`'s semantics: the batch order, crops and flips,
schedule, normalisation and optimizer. burn and PyTorch round differently, so the trained
weights are compared by how far apart their updates are, relative to the update itself; the
controls show that a wrong batch order or wrong crops are far outside that."""

from __future__ import annotations

import json
import shutil

import numpy as np

from conftest import amalgam, train_py, weights

SETTINGS = ["--model", "mlp", "--epochs", "1", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.05",
            "--crop-padding", "2", "--normalize", "--schedule", "cosine-batches", "--decoys", "1"]


def relative_update_difference(a: dict, b: dict, init: dict) -> float:
    num = sum(float(((a[k] - b[k]) ** 2).sum()) for k in init)
    den = sum(float(((b[k] - init[k]) ** 2).sum()) for k in init)
    return (num / den) ** 0.5


def with_config(bundle, tmp_path, name, change):
    copy = tmp_path / name
    shutil.copytree(bundle, copy)
    config = json.loads((copy / "train.json").read_text())
    change(config)
    (copy / "train.json").write_text(json.dumps(config))
    return copy


def test_pytorch_and_burn_train_the_same_way(tmp_path, image_data):
    bundle = tmp_path / "bundle"
    amalgam("augment", "--data", image_data, *SETTINGS, "--bundle", bundle, "--key", tmp_path / "key.json")
    amalgam("train", bundle, "--out", tmp_path / "burn.safetensors")
    train_py(bundle, tmp_path / "torch.safetensors")
    init, burn = weights(bundle / "init.safetensors"), weights(tmp_path / "burn.safetensors")
    same = relative_update_difference(weights(tmp_path / "torch.safetensors"), burn, init)

    def reorder(c):
        c["batch_order_seed"] = (c["batch_order_seed"] + 1) % (1 << 64)

    def recrop(c):
        c["crop_flip"]["seed"] = (c["crop_flip"]["seed"] + 1) % (1 << 64)

    controls = {}
    for name, change in (("order", reorder), ("crops", recrop)):
        train_py(with_config(bundle, tmp_path, name, change), tmp_path / f"{name}.safetensors")
        controls[name] = relative_update_difference(weights(tmp_path / f"{name}.safetensors"), burn, init)
    print(f"relative update difference {same:.4f}; controls {controls}")
    assert same < 0.05, same
    assert min(controls.values()) > 3 * same, (same, controls)
    assert np.isfinite(same)
