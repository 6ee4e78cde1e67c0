#!/usr/bin/env bash
# The PyTorch runtime's tests (pytest), in a virtual environment kept between runs
# ($AMALGAM_VENV, default ~/.cache/amalgam/venv): created with torch, safetensors, numpy and
# pytest from PyPI the first time (about 2 minutes), reused afterwards. Needs the amalgam
# binary: builds it (cargo build --release) if it is missing.
set -euo pipefail
cd "$(dirname "$0")"
venv="${AMALGAM_VENV:-$HOME/.cache/amalgam/venv}"
if ! "$venv/bin/python" -c "import torch, safetensors, numpy, pytest" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch safetensors numpy pytest
fi
[ -x ../target/release/amalgam ] || (cd .. && cargo build --release)
exec "$venv/bin/python" -m pytest -q "$@"
