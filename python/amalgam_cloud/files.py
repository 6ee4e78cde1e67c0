"""Reading untrusted files within limits, and writing files atomically (a temporary file in
the same directory, renamed into place, so a crash never leaves half a file)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from .errors import BundleError

#: Largest JSON file read (a spec's keep indices for 3 x 512 x 512 images fit easily).
MAX_JSON_BYTES = 256 << 20
#: Largest safetensors header read.
MAX_HEADER_BYTES = 100 << 20

_DTYPES = {"F32": np.float32, "F16": np.float16, "U32": np.uint32, "U8": np.uint8, "I64": np.int64, "BF16": None}


def regular_file_size(path: Path) -> int:
    """The size of ``path`` in bytes; ``BundleError`` if it is missing or not a regular file
    (a FIFO or device would hang or never end)."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise BundleError(path, f"cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(path, "is not a regular file")
    return info.st_size


def read_json(path: Path, limit: int = MAX_JSON_BYTES):
    """The JSON value in ``path``, refusing files over ``limit`` bytes."""
    size = regular_file_size(path)
    if size > limit:
        raise BundleError(path, f"is {size} bytes, more than the {limit} a JSON file may have")
    try:
        with open(path, "rb") as f:
            return json.loads(f.read(limit + 1))
    except (ValueError, UnicodeDecodeError) as e:
        raise BundleError(path, f"is not valid JSON: {e}") from None


def mapped_tensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file, memory-mapped read-only (nothing is read until
    used, so a file larger than memory works). The header (8-byte little-endian length, then
    JSON) is checked against the file's size first. (The ``safetensors`` package reads whole
    tensors; training needs random batches of rows, hence the map.)"""
    size = regular_file_size(path)
    if size < 8:
        raise BundleError(path, "is too short for a safetensors file")
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        if header_len > min(MAX_HEADER_BYTES, size - 8):
            raise BundleError(path, f"claims a {header_len}-byte header in a {size}-byte file")
        try:
            header = json.loads(f.read(header_len))
        except (ValueError, UnicodeDecodeError) as e:
            raise BundleError(path, f"has no valid safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise BundleError(path, "has no valid safetensors header")
    start, data_len = 8 + header_len, size - 8 - header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[entry["dtype"]]
            shape = [int(d) for d in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise BundleError(path, f"tensor `{name}` has a malformed header entry") from None
        if dtype is None or any(d < 0 for d in shape):
            raise BundleError(path, f"tensor `{name}` has an unsupported dtype or a negative size")
        count = 1
        for d in shape:
            count *= d
        if not 0 <= begin <= end <= data_len or end - begin != count * np.dtype(dtype).itemsize:
            raise BundleError(path, f"tensor `{name}` ({entry['dtype']} {shape}) does not fit its byte range")
        if count == 0:
            tensors[name] = np.zeros(shape, dtype=dtype)
        else:
            tensors[name] = np.memmap(path, dtype=dtype, mode="r", offset=start + begin, shape=tuple(shape))
    return tensors


def _fsync(path) -> None:
    """Flushes the file or directory at ``path`` to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write) -> None:
    """Calls ``write(temporary_path)``, flushes the temporary file to the disk, then renames it
    onto ``path`` and flushes the directory, so that a crash (a power loss included) leaves
    the old file or the whole new one; on any error the temporary file is removed and
    ``path`` is untouched."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise BundleError(path, "its directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(directory)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
