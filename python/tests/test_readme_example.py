"""The README's own-loop example runs as written (on the CPU) and trains exactly what
`python -m amalgam_cloud train` trains."""

from __future__ import annotations

import os
import re

from amalgam_cloud.training import make_deterministic

from conftest import REPO, amalgam, bitwise_equal, train_py, weights


def test_readme_loop_equals_the_runtime(tmp_path, image_data):
    readme = (REPO / "README.md").read_text()
    example = re.search(r"```python\n(import torch\.nn\.functional as F.*?)```", readme, re.S).group(1)
    amalgam("augment", "--data", image_data, "--epochs", "2", "--crop-padding", "2", "--schedule", "cosine-batches",
            "--bundle", tmp_path / "bundle", "--key", tmp_path / "key.json")
    train_py(tmp_path / "bundle", tmp_path / "runtime.safetensors")
    make_deterministic(2)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(example.replace('"cuda"', '"cpu"'), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert bitwise_equal(weights(tmp_path / "trained.safetensors"), weights(tmp_path / "runtime.safetensors"))
