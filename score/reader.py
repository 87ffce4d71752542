"""Read the records of a CSV input, every field as text, rejecting malformed records.

Records are parsed by Python's `csv` module in strict mode over decoded lines that carry their
line numbers. pyarrow's CSV reader is not used for parsing because, with `newlines_in_values`,
an unterminated quote makes it read the rest of the file into one field without any error, and
its `invalid_row_handler` gets no line number then (pyarrow 17 to 21). Here a record that
breaks the quoting rules is rejected with the line it starts on, and parsing resumes on the next
line, so the rows after a stray quote are read again and scored or rejected on their own.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa

from score.errors import InputError

logger = logging.getLogger(__name__)

TEXT_COLUMN_CANDIDATES = ("review", "text")
ID_COLUMN_CANDIDATE = "id"
ROW_NUMBER_COLUMN = "row"
# A field may span many lines, but one longer than this is taken as a quote never closed. The
# limit also bounds the memory one record can take.
MAX_FIELD_CHARACTERS = 16 << 20
# Rejected records are copied to the rejects file up to this many characters.
MAX_REJECT_TEXT_CHARACTERS = 10_000
_BYTE_ORDER_MARK = "\ufeff"
_FILE_SIGNATURES = {
    b"\x1f\x8b": "a gzip file: name it .csv.gz",
    b"\x28\xb5\x2f\xfd": "a zstandard file: name it .csv.zst",
    b"PK\x03\x04": "a zip archive: extract the CSV file from it",
    b"PAR1": "a Parquet file: convert it to CSV",
}
_UTF16_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")
# Bytes that text files do not contain: C0 control characters other than tab, line feed,
# form feed and carriage return.
_BINARY_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})


@dataclass(frozen=True)
class Columns:
    """The header of an input file and the positions of the columns chosen from it."""

    names: list[str]
    text: str
    id: str | None
    keep: tuple[str, ...] = ()
    label: str | None = None

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass(frozen=True)
class Reject:
    """A malformed record: the line it starts on, why it was rejected, and its text."""

    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class Record:
    """A well-formed record: the line it starts on and its fields."""

    line: int
    fields: list[str]


def codec_name(encoding: str) -> str:
    """Return the decoder to use for `encoding`, checking that lines can be split on bytes.

    UTF-8 is read as `utf-8-sig`, so that a byte-order mark is dropped when there is one.
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError as error:
        raise InputError(
            f"encoding {encoding!r} is unknown: pass --encoding with a Python codec name "
            "such as utf-8, cp1252 or latin-1"
        ) from error
    if info.name in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if "\n".encode(info.name) != b"\n" or "a".encode(info.name) != b"a":
        raise InputError(
            f"encoding {encoding!r} is not supported because it is not ASCII-compatible: "
            "convert the file to UTF-8, for example with iconv"
        )
    return info.name


class _NumberedLines:
    """Decoded lines of a byte stream, numbered from 1, that can be pushed back and reread."""

    def __init__(self, stream: BinaryIO, name: str, encoding: str, first_line: int = 1):
        self.stream = stream
        self.name = name
        self.encoding = encoding
        codec = codec_name(encoding)
        if first_line > 1 and codec == "utf-8-sig":
            # A byte-order mark is dropped only at the start of the file, not of a later part.
            codec = "utf-8"
        self.decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        self.count = first_line - 1
        self.finished = False
        self.pending: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _NumberedLines:
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.popleft()
        else:
            line = (self.count + 1, self._read_line())
            self.count += 1
        self.taken.append(line)
        return line[1]

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self.pending.extendleft(reversed(lines))

    def _read_line(self) -> str:
        if self.finished:
            raise StopIteration
        try:
            raw = self.stream.readline()
        except (OSError, EOFError, pa.ArrowException) as error:
            # No line number: the stream decompresses and buffers ahead of the lines returned.
            raise InputError(
                f"reading {self.name} failed ({error}): check that the file is complete and "
                "not corrupt"
            ) from error
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as error:
            # An incomplete character at the end of the file belongs to the last line read.
            line_number = self.count + 1 if raw else self.count
            raise self._decode_error(raw, error, line_number) from error
        if not raw:
            self.finished = True
            if not text:
                raise StopIteration
        return text

    def _decode_error(self, raw: bytes, error: UnicodeDecodeError, line_number: int) -> InputError:
        if line_number == 1:
            if raw.startswith(_UTF16_BYTE_ORDER_MARKS):
                return InputError(
                    f"{self.name} is UTF-16 text, which the scorer does not read: convert it to "
                    "UTF-8, for example with iconv -f UTF-16 -t UTF-8"
                )
            for signature, kind in _FILE_SIGNATURES.items():
                if raw.startswith(signature):
                    return InputError(f"{self.name} is {kind}, not a CSV text file")
            if any(byte in _BINARY_BYTES for byte in raw[:4096]):
                return InputError(
                    f"{self.name} is a binary file, not a CSV text file: check the input"
                )
        bad = error.object[error.start : error.end]
        return InputError(
            f"{self.name} line {line_number}: byte 0x{bad.hex()[:8]} is not valid "
            f"{self.encoding}: pass --encoding with the file's encoding, for example "
            "--encoding cp1252"
        )


def _reason_of(error: csv.Error) -> str:
    message = str(error)
    if message == "unexpected end of data":
        return "quote never closed before the end of the file"
    if message.startswith("field larger than field limit"):
        return f"field longer than {MAX_FIELD_CHARACTERS} characters, probably an unclosed quote"
    if message.endswith("expected after '\"'"):
        return "text after a closing quote: a quote is unbalanced"
    return f"invalid CSV: {message}"


class CsvRecords:
    """The header and records of one CSV input, read as text, in file order.

    Iterating yields `Record` for a record with as many fields as the header, and `Reject` for
    one that has another number of fields or breaks the quoting rules. Blank lines are skipped
    and counted in `blank_lines`.

    For a stream that starts after the header, at a record boundary of the file, `header` gives
    the column names and `first_line` the file's line number of the stream's first line.
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        encoding: str = "utf-8",
        sep: str = ",",
        header: Sequence[str] | None = None,
        first_line: int = 1,
    ):
        if len(sep) != 1 or sep in '"\r\n':
            raise InputError(f"separator {sep!r} is invalid: pass --sep with one character")
        self.name = name
        self.lines = _NumberedLines(stream, name, encoding, first_line)
        # The field limit is global to the csv module, so it is set on every read. Python 3.10
        # also rejects NUL bytes here ("line contains NUL"), which 3.11 and later accept.
        csv.field_size_limit(MAX_FIELD_CHARACTERS)
        self.parser = csv.reader(self.lines, delimiter=sep, quotechar='"', strict=True)
        self.blank_lines = 0
        self.header = list(header) if header is not None else self._read_header()

    def _read_header(self) -> list[str]:
        while True:
            try:
                names = next(self.parser)
            except StopIteration:
                raise InputError(
                    f"{self.name} is empty: give a CSV file with a header row"
                ) from None
            except csv.Error as error:
                if "new-line character seen in unquoted field" in str(error):
                    raise InputError(
                        f"{self.name} ends its lines with a carriage return alone (old Mac "
                        "format): convert the line endings to \\n, for example with "
                        "tr '\\r' '\\n'"
                    ) from error
                raise InputError(
                    f"{self.name}: the header could not be parsed ({_reason_of(error)}): "
                    "check its quoting"
                ) from error
            if names:
                break
        if any("\x00" in name for name in names):
            raise InputError(f"{self.name} is a binary file, not a CSV text file: check the input")
        names[0] = names[0].removeprefix(_BYTE_ORDER_MARK)
        return names

    def __iter__(self) -> Iterator[Record | Reject]:
        width = len(self.header)
        lines = self.lines
        while True:
            lines.taken.clear()
            try:
                fields = next(self.parser)
            except StopIteration:
                return
            except csv.Error as error:
                first, *rest = lines.taken
                lines.push_back(rest)
                yield Reject(first[0], _reason_of(error), _reject_text([first]))
                continue
            if not fields:
                self.blank_lines += 1
                continue
            # NOTE: a stray quote that a later field closes just before a separator or line end
            # is valid CSV, so the lines between become one long field and are not rejected.
            if len(fields) != width:
                reason = f"expected {width} fields, found {len(fields)}"
                yield Reject(lines.taken[0][0], reason, _reject_text(lines.taken))
                continue
            yield Record(lines.taken[0][0], fields)


def _reject_text(lines: list[tuple[int, str]]) -> str:
    text = "".join(line for _, line in lines).removesuffix("\n").removesuffix("\r")
    return text[:MAX_REJECT_TEXT_CHARACTERS]


def choose_columns(
    name: str,
    names: list[str],
    text_column: str | None,
    id_column: str | None,
    keep_columns: tuple[str, ...] = (),
    label_column: str | None = None,
) -> Columns:
    """Pick the text, id, kept and label columns, by option or by the default names."""
    found = ", ".join(repr(column) for column in names)
    repeated = next((column for column in names if names.count(column) > 1), None)
    if repeated is not None:
        raise InputError(
            f"{name} has the column {repeated!r} more than once (found: {found}): "
            "rename the repeated columns in the header"
        )
    if text_column is None:
        text_column = next((column for column in TEXT_COLUMN_CANDIDATES if column in names), None)
        if text_column is None:
            raise InputError(
                f"{name} has no 'review' or 'text' column (found: {found}): "
                "pass --text-column with the column that contains the reviews"
            )
    elif text_column not in names:
        raise InputError(
            f"{name} has no column {text_column!r} (found: {found}): pass --text-column "
            "with one of the columns found"
        )
    if id_column is None:
        id_column = ID_COLUMN_CANDIDATE if ID_COLUMN_CANDIDATE in names else None
    elif id_column not in names:
        raise InputError(
            f"{name} has no column {id_column!r} (found: {found}): pass --id-column "
            "with one of the columns found"
        )
    missing = [column for column in keep_columns if column not in names]
    if missing:
        raise InputError(
            f"{name} has no column {missing[0]!r} (found: {found}): pass --keep-columns "
            "with columns found"
        )
    if label_column is not None and label_column not in names:
        raise InputError(
            f"{name} has no column {label_column!r} (found: {found}): pass --label-column "
            "with the column that contains the labels"
        )
    return Columns(
        names=names, text=text_column, id=id_column, keep=tuple(keep_columns), label=label_column
    )
