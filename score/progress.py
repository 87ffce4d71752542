"""Progress of a file being scored: a live line on a terminal, else periodic log lines."""

from __future__ import annotations

import logging
import time
from typing import Protocol, TextIO

logger = logging.getLogger(__name__)

DEFAULT_PROGRESS_SECONDS = 60.0


class Progress(Protocol):
    """Called after each chunk with the input's name and the records read so far."""

    def update(self, name: str, records: int, seconds: float) -> None: ...

    def finish(self, name: str) -> None: ...


class _Throttle:
    def __init__(self, interval: float, last: float):
        self.interval = interval
        self.last = last

    def due(self) -> bool:
        """Return True, and restart the interval, when `interval` seconds have passed."""
        now = time.monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class PeriodicLog:
    """Log one line per input every `interval` seconds, so unattended runs log little."""

    def __init__(self, interval: float = DEFAULT_PROGRESS_SECONDS):
        self.throttle = _Throttle(interval, time.monotonic())

    def update(self, name: str, records: int, seconds: float) -> None:
        if self.throttle.due():
            rate = records / max(seconds, 1e-9)
            logger.info("%s: %d records read, %.0f records/s", name, records, rate)

    def finish(self, name: str) -> None:
        pass


class TerminalProgress:
    """Rewrite one status line on a terminal, at most every `interval` seconds."""

    def __init__(self, stream: TextIO, interval: float = 0.2):
        self.stream = stream
        self.throttle = _Throttle(interval, 0.0)
        self.line_shown = False

    def update(self, name: str, records: int, seconds: float) -> None:
        if not self.throttle.due():
            return
        rate = records / max(seconds, 1e-9)
        self.stream.write(f"\r{name}: {records:,} records, {rate:,.0f}/s ")
        self.stream.flush()
        self.line_shown = True

    def finish(self, name: str) -> None:
        if self.line_shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.line_shown = False
