"""The random streams of amalgam's Rust side, reproduced word for word.

amalgam draws every random choice from ChaCha20 streams (``rand_chacha`` 0.9's
``ChaCha20Rng``, seeded with ``rand_core`` 0.9's ``seed_from_u64``, with a stream id per
purpose: ``crates/core/src/rng.rs``). The cloud runtime needs two of them, the batch order and
the crops and flips, and must draw exactly what ``amalgam train`` draws. ChaCha20 is
Bernstein's cipher (RFC 8439's block function with rand_chacha's layout: a 64-bit block
counter in words 12-13 and the 64-bit stream id in words 14-15); the integer sampling follows
rand 0.9 (``UniformInt::sample_single_inclusive`` and ``IncreasingUniform``).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
_CONSTANTS = np.array([0x61707865, 0x3320646E, 0x79622D32, 0x6B206574], dtype=np.uint32)

#: Stream ids of ``crates/core/src/rng.rs`` that the cloud uses.
BATCH_ORDER = 1
CROP_FLIP = 10


def seed_words(seed: int) -> np.ndarray:
    """The 8 key words of ``ChaCha20Rng::seed_from_u64(seed)`` (PCG32 expansion)."""
    state = seed & _MASK64
    words = []
    for _ in range(8):
        state = (state * 6364136223846793005 + 11634580027462260723) & _MASK64
        xorshifted = (((state >> 18) ^ state) >> 27) & 0xFFFFFFFF
        rot = state >> 59
        words.append(((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & 0xFFFFFFFF)
    return np.array(words, dtype=np.uint32)


def _rotl(x: np.ndarray, n: int) -> np.ndarray:
    return (x << np.uint32(n)) | (x >> np.uint32(32 - n))


def _quarter(s: np.ndarray, a: int, b: int, c: int, d: int) -> None:
    s[a] += s[b]
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] += s[d]
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] += s[b]
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] += s[d]
    s[b] = _rotl(s[b] ^ s[c], 7)


def blocks(key: np.ndarray, counters: np.ndarray, streams: np.ndarray) -> np.ndarray:
    """ChaCha20 blocks ``[n, 16]`` (u32 words) for ``n`` (counter, stream) pairs of one key."""
    counters = np.asarray(counters, dtype=np.uint64)
    streams = np.asarray(streams, dtype=np.uint64)
    n = max(counters.size, streams.size)
    init = np.empty((16, n), dtype=np.uint32)
    init[0:4] = _CONSTANTS[:, None]
    init[4:12] = key[:, None]
    init[12] = (counters & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    init[13] = (counters >> np.uint64(32)).astype(np.uint32)
    init[14] = (streams & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    init[15] = (streams >> np.uint64(32)).astype(np.uint32)
    s = init.copy()
    with np.errstate(over="ignore"):
        for _ in range(10):
            _quarter(s, 0, 4, 8, 12)
            _quarter(s, 1, 5, 9, 13)
            _quarter(s, 2, 6, 10, 14)
            _quarter(s, 3, 7, 11, 15)
            _quarter(s, 0, 5, 10, 15)
            _quarter(s, 1, 6, 11, 12)
            _quarter(s, 2, 7, 8, 13)
            _quarter(s, 3, 4, 9, 14)
        s += init
    return s.T


def stream_id(purpose: int, index: int) -> int:
    """``rng::substream``'s stream id: the purpose in the top bits, then a 40-bit index."""
    return (purpose << 40) | index


def words(seed: int, stream: int, count: int) -> np.ndarray:
    """The first ``count`` u32 words of the stream ``stream`` of ``seed``."""
    n_blocks = -(-count // 16)
    out = blocks(seed_words(seed), np.arange(n_blocks, dtype=np.uint64), np.full(n_blocks, stream, dtype=np.uint64))
    return out.reshape(-1)[:count]


class WordStream:
    """A stream's u32 words, consumed one at a time as rand's ``BlockRng`` hands them out."""

    def __init__(self, seed: int, stream: int, chunk_words: int = 4096):
        self._key = seed_words(seed)
        self._stream = stream
        self._chunk = max(16, chunk_words - chunk_words % 16)
        self._buffer: list[int] = []
        self._position = 0
        self._next_block = 0

    def next_u32(self) -> int:
        if self._position == len(self._buffer):
            n = self._chunk // 16
            counters = np.arange(self._next_block, self._next_block + n, dtype=np.uint64)
            out = blocks(self._key, counters, np.full(n, self._stream, dtype=np.uint64))
            self._buffer = out.reshape(-1).tolist()
            self._position = 0
            self._next_block += n
        value = self._buffer[self._position]
        self._position += 1
        return value

    def below(self, bound: int) -> int:
        """rand 0.9's ``random_range(0..bound)`` for a u32 ``bound`` in ``1..=2^32``
        (Lemire's widening multiply with one extra word when the first is biased)."""
        bound &= 0xFFFFFFFF
        if bound == 0:
            return self.next_u32()
        product = self.next_u32() * bound
        result, low = product >> 32, product & 0xFFFFFFFF
        if low > (1 << 32) - bound:
            extra = (self.next_u32() * bound) >> 32
            if low + extra > 0xFFFFFFFF:
                result += 1
        return result


def _chunk_bound(m: int) -> tuple[int, int]:
    """rand's ``calculate_bound_u32``: the product m (m+1) ... while it fits a u32, and its
    number of factors."""
    product, current = m, m + 1
    while product * current <= 0xFFFFFFFF:
        product *= current
        current += 1
    return product, current - m


def shuffled(n: int, seed: int, stream: int) -> np.ndarray:
    """``(0..n).collect::<Vec<_>>().shuffle(rng)`` with rand 0.9 (``partial_shuffle`` with
    ``IncreasingUniform``, for ``n < 2^32``)."""
    if n >= 0xFFFFFFFF:
        raise ValueError(f"cannot shuffle {n} samples (at most 2^32 - 2)")
    order = list(range(n))
    if n <= 1:
        return np.array(order, dtype=np.int64)
    rng = WordStream(seed, stream)
    chunk, remaining = 0, 1
    for i in range(n):
        if remaining == 0:
            bound, count = _chunk_bound(i + 1)
            chunk = rng.below(bound)
            remaining = count
        remaining -= 1
        if remaining == 0:
            j = chunk
        else:
            j = chunk % (i + 1)
            chunk //= i + 1
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


def _below_vectorized(block: np.ndarray, cursor: np.ndarray, bound: int) -> np.ndarray:
    """:meth:`WordStream.below` for many streams at once, each reading its ``block`` row from
    ``cursor`` (advanced in place)."""
    rows = np.arange(block.shape[0])
    product = block[rows, cursor].astype(np.uint64) * np.uint64(bound)
    result = product >> np.uint64(32)
    low = product & np.uint64(0xFFFFFFFF)
    cursor += 1
    biased = low > np.uint64((1 << 32) - bound)
    if biased.any():
        extra = (block[rows, cursor].astype(np.uint64) * np.uint64(bound)) >> np.uint64(32)
        carry = biased & (low + extra > np.uint64(0xFFFFFFFF))
        result += carry.astype(np.uint64)
        cursor += biased
    return result.astype(np.int64)


def crop_flip_draws(seed: int, padding: int, epoch: int, samples: np.ndarray):
    """The crop offsets ``dy``, ``dx`` (pixels, in ``0..=2 padding``) and flips of training
    samples ``samples`` in ``epoch``, as ``CropFlip::batch`` draws them: from sub-stream
    ``epoch * 2^24 + sample`` of the crop/flip stream, ``random_range(0..=2p)`` twice, then
    ``random_bool(0.5)``."""
    samples = np.asarray(samples, dtype=np.uint64)
    streams = np.uint64(CROP_FLIP << 40) | (np.uint64(epoch) << np.uint64(24)) | samples
    block = blocks(seed_words(seed), np.zeros(samples.size, dtype=np.uint64), streams)
    cursor = np.zeros(samples.size, dtype=np.int64)
    dy = _below_vectorized(block, cursor, 2 * padding + 1)
    dx = _below_vectorized(block, cursor, 2 * padding + 1)
    rows = np.arange(samples.size)
    flip = block[rows, cursor + 1] < np.uint32(1 << 31)
    return dy, dx, flip
