#!/usr/bin/env bash
# Installs a pinned PyTorch into bench/.venv for bench/pytorch_baseline.py. The PyPI wheel
# is the large CUDA build (several GB with its NVIDIA libraries); the benchmark runs it on CPU.
# Not for CI.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet "torch==2.9.1"
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'installed in bench/.venv')"
