#!/usr/bin/env bash
# Peak memory (/usr/bin/time -v) of amalgam's commands on inputs that claim to be huge, for
# docs/RELIABILITY.md: each must fail quickly with an error, holding little memory. Needs the
# release binary and, for the PyTorch row, a venv with torch ($AMALGAM_VENV, default
# ~/.cache/amalgam/venv). Prints a Markdown table.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=target/release/amalgam
work="$(mktemp -d "${TMPDIR:-/tmp}/amalgam-hostile.XXXXXX")"
trap 'rm -rf "$work"' EXIT
venv="${AMALGAM_VENV:-$HOME/.cache/amalgam/venv}"

measure() { # name, command...
    local name="$1"; shift
    /usr/bin/time -v -o "$work/time" "$@" > /dev/null 2> "$work/err"
    local rc=$?
    local rss; rss="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")"
    local secs; secs="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time")"
    local err; err="$(grep -v '^Command\|^\s' "$work/err" | head -c 90 | tr '\n|' '  ')"
    echo "| $name | $rc | $((rss / 1024)) | $secs | $err |"
}

python3 - "$work" <<'PY'
import gzip, struct, sys, pathlib
root = pathlib.Path(sys.argv[1]) / "idx"; root.mkdir()
def idx(path, dims, body, gz=False):
    data = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body
    (gzip.open if gz else open)(path, "wb").write(data)
for split, n in (("train", 32), ("t10k", 16)):
    idx(root / f"{split}-labels-idx1-ubyte", [n], bytes(n))
idx(root / "t10k-images-idx3-ubyte", [16, 16, 16], bytes(16 * 256))
idx(root / "train-images-idx3-ubyte", [32, 65535, 65535], bytes(100))
gz = root.parent / "idxgz"; gz.mkdir()
for f in root.iterdir():
    data = f.read_bytes()
    gzip.open(gz / (f.name + ".gz"), "wb").write(data)
PY
echo "| input | exit | peak RSS (MiB) | wall time | error (start) |"
echo "| --- | --- | --- | --- | --- |"
measure "IDX header: 32 images of 65535x65535 over 100 bytes (raw), augment" \
    $bin augment --data "$work/idx" --bundle "$work/b1" --key "$work/k1.json"
measure "the same, gzip" $bin augment --data "$work/idxgz" --bundle "$work/b2" --key "$work/k2.json"

# A valid small bundle, then hostile copies of it.
python3 - "$work" <<'PY'
import struct, sys, pathlib
root = pathlib.Path(sys.argv[1]) / "ok"; root.mkdir()
def idx(path, dims, body):
    open(path, "wb").write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body)
for split, n in (("train", 64), ("t10k", 16)):
    idx(root / f"{split}-images-idx3-ubyte", [n, 16, 16], bytes((i * 7) % 256 for i in range(n * 256)))
    idx(root / f"{split}-labels-idx1-ubyte", [n], bytes(i % 4 for i in range(n)))
PY
$bin augment --data "$work/ok" --model lenet --epochs 1 --bundle "$work/bundle" --key "$work/key.json" > /dev/null
$bin train "$work/bundle" --out "$work/trained.safetensors" > /dev/null
cp -r "$work/bundle" "$work/huge-header"
python3 -c "import sys; open(sys.argv[1], 'wb').write((4 << 40).to_bytes(8, 'little') + b'{}')" "$work/huge-header/data.safetensors"
measure "data.safetensors header claiming 4 TB, train" $bin train "$work/huge-header" --out "$work/t1.safetensors"
cp -r "$work/bundle" "$work/epochs"
sed -i 's/"epochs": 1/"epochs": 1000000000000/' "$work/epochs/train.json"
measure "train.json epochs 10^12, train" $bin train "$work/epochs" --out "$work/t2.safetensors"
cp -r "$work/bundle" "$work/zero"
rm "$work/zero/model.json"; ln -s /dev/zero "$work/zero/model.json"
measure "model.json -> /dev/zero, train" $bin train "$work/zero" --out "$work/t3.safetensors"
cp "$work/trained.safetensors" "$work/sparse.safetensors"
truncate -s 20G "$work/sparse.safetensors"
measure "trained weights padded to a sparse 20 GB, extract" \
    $bin extract --key "$work/key.json" --trained "$work/sparse.safetensors" --out "$work/m"
if [ -x "$venv/bin/python" ]; then
    measure "data.safetensors header claiming 4 TB, PyTorch runtime (torch import included)" \
        env PYTHONPATH=python "$venv/bin/python" -m amalgam_cloud train "$work/huge-header" --out "$work/t4.safetensors"
    measure "model.json -> /dev/zero, PyTorch runtime" \
        env PYTHONPATH=python "$venv/bin/python" -m amalgam_cloud train "$work/zero" --out "$work/t5.safetensors"
fi

# Sparse files of valid length that decode to more than this machine's memory: 15 GiB of
# zeros (no disk) as IDX images (20,000,000 of 28x28, 56 GiB as f32) and as one CIFAR-10
# batch (60 GiB as f32); the readers stream and check the decoded size first.
python3 - "$work" <<'PY'
import struct, sys, pathlib
root = pathlib.Path(sys.argv[1])
idx = root / "sparse-idx"; idx.mkdir()
n = 20_000_000
for split, count, side in (("train", n, 28), ("t10k", 16, 28)):
    with open(idx / f"{split}-images-idx3-ubyte", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", count, side, side))
        f.truncate(16 + count * side * side)
    with open(idx / f"{split}-labels-idx1-ubyte", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", count))
        f.truncate(8 + count)
cifar = root / "sparse-cifar"; cifar.mkdir()
for name, records in (("data_batch_1.bin", 5_000_000), ("test_batch.bin", 16)):
    with open(cifar / name, "wb") as f:
        f.truncate(records * 3073)
PY
measure "IDX images: a sparse 15 GiB file (20,000,000 images), baseline" \
    $bin baseline --data "$work/sparse-idx" --out "$work/m1"
measure "CIFAR-10 batch: a sparse 15 GiB file (5,000,000 records), baseline" \
    $bin baseline --data "$work/sparse-cifar" --out "$work/m2"

# Text tables, streamed: a 200 MB cell (an unclosed quote), a bzip2 bomb (1.3 GB of zeros
# in 96 KB), and one of valid rows.
python3 - "$work" <<'PY'
import bz2, sys, pathlib
root = pathlib.Path(sys.argv[1])
with open(root / "cell.csv", "wb") as f:
    f.write(b'label,text\npos,"')
    for _ in range(200):
        f.write(b"a" * (1 << 20))
c = bz2.BZ2Compressor(9)
with open(root / "bomb.csv.bz2", "wb") as f:
    f.write(c.compress(b"label,text\n"))
    for _ in range(1300):
        f.write(c.compress(bytes(1 << 20)))
    f.write(c.flush())
c = bz2.BZ2Compressor(9)
with open(root / "rows.csv.bz2", "wb") as f:
    f.write(c.compress(b"label,text\n"))
    rows = b"pos,a good movie with a plot\n" * 36000
    for _ in range(1400):
        f.write(c.compress(rows))
    f.write(c.flush())
PY
measure "CSV with a 200 MB cell, augment --task text" \
    $bin augment --task text --data "$work/cell.csv" --bundle "$work/b3" --key "$work/k3.json"
measure "bzip2 bomb: 1.3 GB of zeros, augment --task text" \
    $bin augment --task text --data "$work/bomb.csv.bz2" --bundle "$work/b4" --key "$work/k4.json"
measure "bzip2 bomb of valid rows: 1.5 GB, 50 million rows in 220 KB, augment --task text" \
    $bin augment --task text --data "$work/rows.csv.bz2" --bundle "$work/b5" --key "$work/k5.json"
