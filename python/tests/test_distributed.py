"""DistributedDataParallel through torchrun: two CPU processes (gloo) on loopback. The bundle's
extracted weights equal the plain model trained under the same set-up, bitwise."""

from __future__ import annotations

import sys

from conftest import amalgam, bitwise_equal, branch, run, weights


def torchrun(bundle, out):
    """Two ranks on one machine, one thread each; torchrun's standalone rendezvous binds a
    free loopback port and the command is bounded in time (conftest.run)."""
    return run([
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "amalgam_cloud", "train", bundle, "--out", out, "--threads", "1",
    ], env={"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"})


def test_ddp_extracted_model_equals_plain_ddp_training_bitwise(tmp_path, image_data):
    common = ["--data", image_data, "--model", "lenet", "--epochs", "2", "--batch-size", "30", "--seed", "5",
              "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--crop-padding", "2"]
    amalgam("augment", *common, "--decoys", "2", "--decoy-arch", "family", "--bundle", tmp_path / "bundle", "--key", tmp_path / "key.json")
    amalgam("baseline", *common, "--as-bundle", "--out", tmp_path / "plain")
    torchrun(tmp_path / "bundle", tmp_path / "trained.safetensors")
    torchrun(tmp_path / "plain", tmp_path / "plain.safetensors")
    amalgam("extract", "--key", tmp_path / "key.json", "--trained", tmp_path / "trained.safetensors", "--out", tmp_path / "extracted")
    extracted = weights(tmp_path / "extracted" / "model.safetensors")
    assert bitwise_equal(extracted, branch(weights(tmp_path / "plain.safetensors"), 0))
    assert not bitwise_equal(extracted, branch(weights(tmp_path / "plain" / "init.safetensors"), 0))
