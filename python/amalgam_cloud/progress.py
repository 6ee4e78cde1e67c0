"""A progress bar on standard error (the runtime depends on torch, safetensors and numpy
only): batches done, rate, time left, the epoch's running loss."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts batches towards ``total``; redraws at most five times a second, on a terminal
    only."""

    def __init__(self, total: int, label: str, enabled: bool = True):
        self.total, self.label, self.done = max(total, 1), label, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        self.message = ""

    def advance(self, message: str | None = None) -> None:
        self.done += 1
        if message is not None:
            self.message = message
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or self.done == self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            left = (self.total - self.done) / max(rate, 1e-9)
            filled = int(30 * self.done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:.1f} batches/s, {left:.0f} s left {self.message}\x1b[K")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
