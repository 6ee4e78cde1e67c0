"""A bundle comes from the other side of the trust boundary: bad files end in a clear error
naming the file, a non-zero exit, and no output; nothing is allocated from a claimed size."""

from __future__ import annotations

import json
import os
import shutil
import threading

import numpy as np
import pytest
from safetensors.numpy import save_file

from amalgam_cloud import Bundle, BundleError

from conftest import amalgam, train_py


@pytest.fixture(scope="module")
def good_bundles(tmp_path_factory, image_data, text_data):
    root = tmp_path_factory.mktemp("good")
    amalgam("augment", "--data", image_data, "--model", "lenet", "--epochs", "1", "--bundle", root / "images", "--key", root / "images.json")
    amalgam("augment", "--task", "text", "--data", text_data, "--model", "bag", "--sequence-length", "16", "--epochs", "1",
            "--bundle", root / "text", "--key", root / "text.json")
    return root


def copy(good, kind, tmp_path):
    target = tmp_path / kind
    shutil.copytree(good / kind, target)
    return target


def edit_json(path, change):
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def rewrite_data(bundle, change):
    from safetensors.numpy import load_file

    tensors = {k: np.array(v) for k, v in load_file(str(bundle / "data.safetensors")).items()}
    change(tensors)
    save_file(tensors, str(bundle / "data.safetensors"))


def set_epochs(c):
    c["epochs"] = 2**63


def huge_padding(c):
    c["crop_flip"] = {"padding": 10**6, "seed": 1}


def branch_seven(m):
    m["branches"][0]["keep_indices"][0][-1] = 10**9


def too_small_lenet(m):
    m["branches"][0]["network"]["input"]["height"] = 10


CASES = {
    "epochs 2^63": ("images", lambda b: edit_json(b / "train.json", set_epochs), "train.json"),
    "crop padding 10^6": ("images", lambda b: edit_json(b / "train.json", huge_padding), "train.json"),
    "keep index out of range": ("images", lambda b: edit_json(b / "model.json", branch_seven), "model.json"),
    "LeNet input too small": ("images", lambda b: edit_json(b / "model.json", too_small_lenet), "model.json"),
    "token id above the vocabulary": (
        "text", lambda b: rewrite_data(b, lambda t: t["train.tokens"].__setitem__((0, 0), 10**6)), "data.safetensors"),
    "label out of range": ("images", lambda b: rewrite_data(b, lambda t: t["test.labels"].__setitem__(0, 200)), "data.safetensors"),
    "truncated data": ("images", lambda b: os.truncate(b / "data.safetensors", 5000), "data.safetensors"),
    "header claims 4 TB": ("images", lambda b: (b / "data.safetensors").write_bytes((4 << 40).to_bytes(8, "little") + b"{}"), "data.safetensors"),
    "init tensor mis-shaped": (
        "images", lambda b: save_file({"branches.0.conv1.weight": np.zeros((2, 2), np.float32)}, str(b / "init.safetensors")), "init.safetensors"),
    "model.json not JSON": ("images", lambda b: (b / "model.json").write_text("{"), "model.json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_bundle_is_refused_with_the_file_named(tmp_path, good_bundles, case):
    kind, corrupt, named = CASES[case]
    bundle = copy(good_bundles, kind, tmp_path)
    corrupt(bundle)
    with pytest.raises(BundleError) as error:
        Bundle(bundle)
    assert named in str(error.value)
    done = train_py(bundle, tmp_path / "trained.safetensors", expect_ok=False)
    assert done.returncode == 1 and named in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "trained.safetensors").exists()
    assert not (tmp_path / "trained.safetensors.checkpoint").exists()


def test_a_fifo_is_refused_not_waited_on(tmp_path, good_bundles):
    bundle = copy(good_bundles, "images", tmp_path)
    os.remove(bundle / "model.json")
    os.mkfifo(bundle / "model.json")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("error", pytest.raises(BundleError, Bundle, bundle)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "opening a bundle whose model.json is a FIFO hung"
    assert "not a regular file" in str(outcome["error"].value)


def test_an_interrupted_first_checkpoint_does_not_wedge_the_run(tmp_path, good_bundles):
    bundle = copy(good_bundles, "images", tmp_path)
    out = tmp_path / "trained.safetensors"
    (tmp_path / "trained.safetensors.checkpoint").mkdir()
    (tmp_path / "trained.safetensors.checkpoint" / "epoch-1.pt").write_bytes(b"half a file")
    resumed = train_py(bundle, out, "--resume", expect_ok=False)
    assert resumed.returncode == 1 and "no checkpoint" in resumed.stderr
    train_py(bundle, out)
    assert out.exists()


def test_log_and_weights_must_differ(tmp_path, good_bundles):
    bundle = copy(good_bundles, "images", tmp_path)
    done = train_py(bundle, tmp_path / "t.safetensors", "--log", tmp_path / "t.safetensors", expect_ok=False)
    assert done.returncode == 1 and "different files" in done.stderr

