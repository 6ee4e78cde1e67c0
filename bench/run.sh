#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: amalgam's measurements, PyTorch's (when bench/install_torch.sh has
# made bench/.venv), and the memory of a streaming `amalgam augment`. Run on an idle machine;
# takes about 12 minutes on 2 cores and 5 GB of temporary disk. RAYON_NUM_THREADS (default 2) sets the threads of both.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
cargo build --release -p amalgam -p amalgam-bench
mkdir -p bench/results
target/release/amalgam-bench measure --out bench/results/amalgam.json
extra=()
if [ -x bench/.venv/bin/python ]; then
    bench/.venv/bin/python bench/pytorch_baseline.py --out bench/results/pytorch.json \
        --threads "$RAYON_NUM_THREADS"
    extra+=(--pytorch bench/results/pytorch.json)
fi
bash bench/memory.sh
extra+=(--memory bench/results/memory.json)
machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, $(uname -sr), $(rustc --version), $(date -u +%F)"
target/release/amalgam-bench report --amalgam bench/results/amalgam.json "${extra[@]}" \
    --machine "$machine" --out BENCHMARKS.md
venv="${AMALGAM_VENV:-$HOME/.cache/amalgam/venv}"
if [ -x "$venv/bin/python" ]; then
    # Section 5: burn against the PyTorch runtime (the venv python/run-tests.sh makes).
    "$venv/bin/python" bench/cloud_runtimes.py target/release/amalgam
fi
echo "wrote BENCHMARKS.md"
