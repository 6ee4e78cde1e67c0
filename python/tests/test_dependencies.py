"""The runtime depends on torch, safetensors and numpy only (and the standard library): a
cloud installs nothing else, and nothing of the owner's side can be imported."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "amalgam_cloud"
ALLOWED = {"torch", "safetensors", "numpy"}


def test_runtime_imports_only_torch_safetensors_numpy_and_the_standard_library():
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    outside = {m for m in found if m not in ALLOWED and m not in sys.stdlib_module_names and m != "__future__"}
    assert not outside, outside
    assert "torch" in found and "numpy" in found and "safetensors" in found
