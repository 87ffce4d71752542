"""Split a CSV file into byte ranges that begin at record boundaries, for parallel scoring.

Review text may contain quoted newlines, so a newline ends a record only when an even number of
quote characters precedes it. With RFC 4180 quoting, a field is quoted from its first byte and
a quote inside it is doubled, so each quote toggles the in-quotes state. One pass that counts
quotes therefore finds the record boundaries and the line and record numbers at each of them.

The count is right only where the file's quoting is what Python's csv module in strict mode
reads the same way. A stray quote inside an unquoted field, text after a closing quote, a
carriage return alone, a NUL byte, a quote never closed or a record longer than the reader's
field limit would let the reader resynchronise differently, so the same pass checks for each of
them. A file with any of them is not split, and is scored whole as in one process.
"""

from __future__ import annotations

import codecs
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from score.errors import InputError
from score.reader import MAX_FIELD_CHARACTERS, codec_name
from score.sources import ByteRange

logger = logging.getLogger(__name__)

QUOTE = ord('"')
NEWLINE = ord("\n")
CARRIAGE_RETURN = ord("\r")
UTF8_BYTE_ORDER_MARK = codecs.BOM_UTF8
SCAN_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Boundary:
    """The first byte of a record: its offset, its 1-based line, and the non-blank records
    before it, the header included."""

    offset: int
    line: int
    records_before: int


@dataclass
class Scan:
    """Record boundaries near each multiple of the part size, or why the file cannot be split."""

    boundaries: list[Boundary]
    problem: str | None = None


def separator_byte(encoding: str, sep: str) -> int | None:
    """Return the byte of `sep` when byte-wise scanning is safe for `encoding`, else None.

    Scanning is safe when quotes, newlines and the separator never occur inside a multi-byte
    character: in UTF-8 and in encodings of one byte per character, for a one-byte separator.
    """
    codec = codec_name(encoding)
    if codec == "utf-8-sig":
        codec = "utf-8"  # Encoding with utf-8-sig would put a byte-order mark first.
    encoded = sep.encode(codec, errors="replace")
    if len(encoded) != 1:
        return None
    if codec != "utf-8":
        high_bytes = bytes(range(0x80, 0x100))
        if len(high_bytes.decode(codec, errors="replace")) != len(high_bytes):
            return None
    return encoded[0]


def scan(path: Path, part_bytes: int, separator: int) -> Scan:
    """Find the first record boundary at or after each multiple of `part_bytes`.

    Reads the whole file once, in blocks of `SCAN_BLOCK_BYTES`, also to check its quoting.
    """
    if part_bytes < 1:
        raise InputError(f"part size {part_bytes} bytes is invalid: use 1 or more")
    size = path.stat().st_size
    targets = deque(range(part_bytes, size, part_bytes))
    state = _ScanState()
    with path.open("rb") as file:
        if file.read(len(UTF8_BYTE_ORDER_MARK)) == UTF8_BYTE_ORDER_MARK:
            state.position = len(UTF8_BYTE_ORDER_MARK)
        file.seek(state.position)
        while block := file.read(SCAN_BLOCK_BYTES):
            problem = state.scan_block(np.frombuffer(block, dtype=np.uint8), separator, targets)
            if problem is not None:
                return Scan([], f"{problem} at or after byte {state.position}")
    if state.parity:
        return Scan([], "a quote is never closed")
    if size - state.last_end > MAX_FIELD_CHARACTERS:
        return Scan([], f"the last record is longer than {MAX_FIELD_CHARACTERS} bytes")
    return Scan([boundary for boundary in state.boundaries if boundary.offset < size])


@dataclass
class _ScanState:
    """State carried from one block of the scan to the next."""

    position: int = 0
    parity: int = 0
    previous: int = NEWLINE
    # Bytes allowed first in the next block, after a closing quote or a carriage return.
    allowed_next: frozenset[int] | None = None
    lines: int = 0
    records: int = 0
    last_end: int = 0
    boundaries: list[Boundary] = field(default_factory=list)

    def scan_block(self, data: np.ndarray, separator: int, targets: deque[int]) -> str | None:
        """Check one block, add the boundaries it contains, and return a problem or None."""
        if self.allowed_next is not None and int(data[0]) not in self.allowed_next:
            return "text after a closing quote or a carriage return"
        before = np.concatenate(([self.previous], data[:-1])).astype(np.uint8)
        after = data[1:]
        quotes = data == QUOTE
        # uint8 sums wrap at 256, an even number, so their lowest bit is still the parity.
        inside = ((np.cumsum(quotes, dtype=np.uint8) + self.parity) & 1).astype(bool)
        outside_before = ~(inside ^ quotes)

        if np.any(data == 0):
            return "a NUL byte"
        field_start = (before == separator) | (before == NEWLINE) | (before == QUOTE)
        if np.any(quotes & inside & ~field_start):
            return "a quote inside an unquoted field"
        closers = quotes & ~inside
        closer_end = (after == separator) | (after == CARRIAGE_RETURN) | (after == NEWLINE)
        if np.any(closers[:-1] & ~(closer_end | (after == QUOTE))):
            return "text after a closing quote"
        returns = (data == CARRIAGE_RETURN) & outside_before
        if np.any(returns[:-1] & (after != NEWLINE)):
            return "a carriage return without a line feed"

        newlines = np.flatnonzero(data == NEWLINE)
        ends = np.flatnonzero((data == NEWLINE) & outside_before) + self.position + 1
        starts = np.concatenate(([self.last_end], ends[:-1]))
        lengths = ends - starts
        if len(lengths) and lengths.max() > MAX_FIELD_CHARACTERS:
            return f"a record longer than {MAX_FIELD_CHARACTERS} bytes"
        crlf = before[ends - self.position - 1] == CARRIAGE_RETURN
        blank = (lengths == 1) | ((lengths == 2) & crlf)
        records = self.records + np.cumsum(~blank)
        self._add_boundaries(ends, records, newlines + self.position, targets)

        self.allowed_next = None
        if closers[-1]:
            self.allowed_next = frozenset((separator, CARRIAGE_RETURN, NEWLINE, QUOTE))
        elif returns[-1]:
            self.allowed_next = frozenset((NEWLINE,))
        self.parity = int(inside[-1])
        self.previous = int(data[-1])
        self.lines += len(newlines)
        if len(ends):
            self.records = int(records[-1])
            self.last_end = int(ends[-1])
        self.position += len(data)
        return None

    def _add_boundaries(
        self, ends: np.ndarray, records: np.ndarray, newlines: np.ndarray, targets: deque[int]
    ) -> None:
        while targets:
            index = int(np.searchsorted(ends, targets[0]))
            if index == len(ends):
                return  # The boundary for this target is in a later block.
            offset = int(ends[index])
            line = self.lines + int(np.searchsorted(newlines, offset)) + 1
            self.boundaries.append(Boundary(offset, line, int(records[index])))
            while targets and targets[0] <= offset:
                targets.popleft()


def split_ranges(
    path: Path, header: list[str], header_lines: int, encoding: str, sep: str, part_bytes: int
) -> list[ByteRange]:
    """Return the byte ranges of `path` to score in parallel, or [] to score it whole.

    `header` is the file's header row and `header_lines` the lines it takes, with any blank
    lines before it. Ranges begin after the header, except the first, which contains it.
    """
    if path.suffix != ".csv" or path.stat().st_size <= part_bytes:
        return []
    separator = separator_byte(encoding, sep)
    if separator is None:
        logger.info("%s: scored whole, because %s text is not split byte-wise", path, encoding)
        return []
    result = scan(path, part_bytes, separator)
    if result.problem is not None:
        logger.info("%s: scored whole, not split, because of %s", path, result.problem)
        return []
    starts = [boundary for boundary in result.boundaries if boundary.line > header_lines]
    if not starts:
        return []
    ranges = [ByteRange(0, starts[0].offset)]
    ends = [boundary.offset for boundary in starts[1:]] + [path.stat().st_size]
    for start, end in zip(starts, ends, strict=True):
        ranges.append(
            ByteRange(
                start.offset,
                end,
                header=tuple(header),
                first_line=start.line,
                first_record=start.records_before - 1,
            )
        )
    return ranges
