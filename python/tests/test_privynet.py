"""PrivyNet bundles in PyTorch: the runtime builds the cloud part of a split network (the
first layer sized for the kept channels, the whole network's tensor names) and trains it as
`amalgam train` does; `load_model` rebuilds the composed model the owner extracts (local
part, kept channels, cloud part) and gives burn's logits on raw images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from amalgam_cloud import Bundle, BundleError, load_model

from conftest import amalgam, train_py, weights
from test_follows_amalgam_train import relative_update_difference
from test_model_dir import LOGIT_TOLERANCE

CASES = {"lenet split 1": ("lenet", "1", "3", []), "lenet split 2, f16": ("lenet", "2", "5", ["--f16"]),
         "resnet20 split 2": ("resnet20", "2", "6", []), "vgg11 split 3, f16": ("vgg11", "3", "64", ["--f16"])}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cloud_part_trains_as_amalgam_train_and_the_composed_model_loads(tmp_path, image_data, case):
    model, split, channels, precision = CASES[case]
    training = ["--data", image_data, "--model", model, "--epochs", "1", "--batch-size", "16"]
    amalgam("privynet", "pretrain", *training, "--out", tmp_path / "pretrained")
    amalgam("privynet", "augment", *training[:2], "--pretrained", tmp_path / "pretrained", "--split", split, "--channels", channels, *precision,
            "--epochs", "1", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.05", "--bundle", tmp_path / "bundle", "--key", tmp_path / "key")
    amalgam("train", tmp_path / "bundle", "--out", tmp_path / "burn.safetensors")
    train_py(tmp_path / "bundle", tmp_path / "torch.safetensors")
    init, burn = weights(tmp_path / "bundle" / "init.safetensors"), weights(tmp_path / "burn.safetensors")
    difference = relative_update_difference(weights(tmp_path / "torch.safetensors"), burn, init)
    assert difference < 0.05, difference

    # The owner extracts the PyTorch-trained cloud part; PyTorch rebuilds the composed model.
    amalgam("privynet", "extract", "--key", tmp_path / "key", "--trained", tmp_path / "torch.safetensors", "--out", tmp_path / "model")
    amalgam("eval", "--model", tmp_path / "model", "--data", image_data, "--logits", tmp_path / "burn-logits.safetensors")
    burn_logits = weights(tmp_path / "burn-logits.safetensors")["logits"]
    amalgam("baseline", "--data", image_data, "--model", model, "--as-bundle", "--out", tmp_path / "plain")
    test = Bundle(tmp_path / "plain").data("test")
    with torch.no_grad():
        x, _ = test.batch(np.arange(len(test)), "cpu")
        logits = load_model(tmp_path / "model")(x).numpy()
    assert np.abs(logits - burn_logits).max() <= LOGIT_TOLERANCE * max(1.0, np.abs(burn_logits).max())


def test_a_bundle_holding_a_local_part_is_refused(tmp_path, image_data):
    amalgam("privynet", "pretrain", "--data", image_data, "--epochs", "1", "--out", tmp_path / "pretrained")
    amalgam("privynet", "augment", "--data", image_data, "--pretrained", tmp_path / "pretrained", "--bundle", tmp_path / "bundle",
            "--key", tmp_path / "key")
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "bundle", bad)
    spec = json.loads((bad / "model.json").read_text())
    spec["branches"][0]["network"]["split"]["part"] = {"kind": "local"}
    (bad / "model.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError) as error:
        Bundle(bad)
    assert "model.json" in str(error.value)
