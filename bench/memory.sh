#!/usr/bin/env bash
# Peak memory (/usr/bin/time -v) of a streaming `amalgam augment` (uniform noise; interleave
# noise holds its decoy inputs in memory) on generated raw IDX sets of N and 8N
# training samples at amount 1.0 (28x28 -> 56x56 f32: the 8N bundle is about 4.4 GB with the
# default N = 40,000). Writes bench/results/memory.json. Needs about 5 GB of free disk in
# TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${N:-40000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/amalgam-memory.XXXXXX")"
trap 'rm -rf "$work"' EXIT
rows=()
for samples in "$n" "$((8 * n))"; do
    target/release/amalgam-bench write-idx --dir "$work/data" --samples "$samples"
    start="$(date +%s.%N)"
    /usr/bin/time -v -o "$work/time" target/release/amalgam augment --data "$work/data" \
        --model mlp --amount 1.0 --noise uniform --bundle "$work/bundle" --key "$work/key.json" \
        > /dev/null
    seconds="$(echo "$(date +%s.%N) - $start" | bc)"
    rss="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")"
    bytes="$(stat -c %s "$work/bundle/data.safetensors")"
    echo "augment, $samples samples: ${rss} KiB peak RSS, $bytes bytes of data, ${seconds} s"
    rows+=("{\"samples\": $samples, \"bundle_bytes\": $bytes, \"peak_rss_kib\": $rss, \"seconds\": $seconds}")
    rm -rf "$work/data" "$work/bundle" "$work/key.json"
done
mkdir -p bench/results
(IFS=,; echo "{\"rows\": [${rows[*]}]}") > bench/results/memory.json
