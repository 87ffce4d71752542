"""Split a CSV file into byte ranges that start and end on record boundaries.

Review text may contain quoted newlines, so a newline ends a record only when an even number of
quote characters precedes it in the file. With RFC 4180 quoting (a quote inside a quoted field
is doubled) each quote toggles the in-quotes state. Counting quotes from the start of the file
so shows which newlines are record boundaries, with no guessing.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from score.errors import InputError
from score.reader import Columns

QUOTE = ord('"')
NEWLINE = ord("\n")
SCAN_BLOCK_BYTES = 8 << 20


def is_ascii_compatible(encoding: str, separator: str) -> bool:
    """Return True when quotes, newlines and the separator are the same single bytes as ASCII."""
    try:
        codec = codecs.lookup(encoding)
        return codec.encode(f'"\n{separator}')[0] == f'"\n{separator}'.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def record_boundaries(path: Path, part_bytes: int) -> list[int]:
    """Return the byte offsets at which parts of about `part_bytes` bytes each start.

    The first offset is 0, where the header is. Every other offset is the first byte after a
    newline outside quotes, at or after a multiple of `part_bytes`. The file is read once.
    """
    if part_bytes < 1:
        raise InputError(f"part size {part_bytes} bytes is invalid: use 1 or more")
    size = path.stat().st_size
    targets = list(range(part_bytes, size, part_bytes))
    boundaries = [0]
    parity = 0  # Quotes seen so far, modulo 2: 1 inside a quoted field.
    position = 0
    with path.open("rb") as file:
        while targets and (block := file.read(SCAN_BLOCK_BYTES)):
            data = np.frombuffer(block, dtype=np.uint8)
            end = position + len(data)
            quotes = data == QUOTE
            if targets[0] < end:
                # uint8 sums wrap at 256, an even number, so their lowest bit is still the parity.
                inside = (np.cumsum(quotes, dtype=np.uint8) + parity) & 1
                record_ends = np.flatnonzero((data == NEWLINE) & (inside == 0)) + position + 1
                while targets and targets[0] < end:
                    index = np.searchsorted(record_ends, targets[0])
                    if index == len(record_ends):
                        break  # The first record boundary after the target is in a later block.
                    boundary = int(record_ends[index])
                    if boundary < size:
                        boundaries.append(boundary)
                    targets = [target for target in targets if target > boundary]
            parity = (parity + int(np.count_nonzero(quotes))) & 1
            position = end
    return boundaries


def read_range(
    path: Path,
    columns: Columns,
    start: int,
    end: int,
    encoding: str = "utf-8",
    separator: str = ",",
    chunk_bytes: int = 1 << 20,
) -> Iterator[pa.RecordBatch]:
    """Yield the records in bytes `start` to `end` of `path`, skipping the header at offset 0.

    The range is read into memory whole, so it must be a part from `record_boundaries`.
    """
    with path.open("rb") as file:
        file.seek(start)
        data = file.read(end - start)
    read_options = pacsv.ReadOptions(
        block_size=chunk_bytes,
        encoding=encoding,
        column_names=columns.names,
        skip_rows=1 if start == 0 else 0,
    )
    parse_options = pacsv.ParseOptions(delimiter=separator, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in columns.names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        yield from pacsv.open_csv(
            pa.BufferReader(data),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid as error:
        raise InputError(
            f"{path} bytes {start}-{end}: the CSV could not be parsed ({error}): check its quoting"
        ) from error
