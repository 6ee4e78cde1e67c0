"""The owner's model directory in PyTorch: `load_model` rebuilds every architecture amalgam
supports, loads the weights strictly, and gives burn's logits (within 1e-4) and accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from amalgam_cloud import Bundle, load_model

from conftest import amalgam, weights

IMAGE_MODELS = ["mlp", "lenet", "resnet20", "resnet18", "vgg11"]
TEXT_MODELS = ["bag", "textcnn", "gru", "transformer"]
#: Largest difference between burn's and PyTorch's logits (f32, different kernels).
LOGIT_TOLERANCE = 1e-4


@pytest.mark.parametrize("model", IMAGE_MODELS + TEXT_MODELS)
def test_load_model_matches_amalgam_eval(tmp_path, image_data, text_data, model):
    text = model in TEXT_MODELS
    data = ["--task", "text", "--data", text_data, "--sequence-length", "16"] if text else ["--data", image_data]
    training = [*data, "--model", model, "--epochs", "1", "--batch-size", "64", *([] if text else ["--normalize"])]
    amalgam("baseline", *training, "--out", tmp_path / "model")
    amalgam("baseline", *training, "--as-bundle", "--out", tmp_path / "plain")
    evaluated = amalgam("eval", "--model", tmp_path / "model", *data, "--logits", tmp_path / "burn-logits.safetensors")
    burn_logits = weights(tmp_path / "burn-logits.safetensors")["logits"]

    test = Bundle(tmp_path / "plain").data("test")
    network = load_model(tmp_path / "model")
    with torch.no_grad():
        x, labels = test.batch(np.arange(len(test)), "cpu")
        logits = network(x).numpy()
    assert logits.shape == burn_logits.shape
    assert np.abs(logits - burn_logits).max() <= LOGIT_TOLERANCE * max(1.0, np.abs(burn_logits).max())
    accuracy = float((logits.argmax(1) == labels.numpy()).mean())
    assert f"test accuracy {accuracy:.4f}" in evaluated.stdout
