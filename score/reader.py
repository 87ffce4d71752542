"""Stream a CSV file of reviews in chunks, every column read as text."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from score.errors import InputError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_BYTES = 4 << 20
TEXT_COLUMN_CANDIDATES = ("review", "text")
ID_COLUMN_CANDIDATE = "id"
ROW_NUMBER_COLUMN = "row"


@dataclass
class Columns:
    """The header of an input file and the columns chosen from it."""

    names: list[str]
    text: str
    id: str | None


def read_header(path: Path, encoding: str, separator: str) -> list[str]:
    """Return the column names of `path`, with any UTF-8 byte-order mark removed."""
    try:
        with path.open("r", encoding=encoding, newline="") as file:
            first = next(csv.reader(file, delimiter=separator), None)
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: the header is not valid {encoding} ({error.reason}): "
            "pass --encoding with the file's encoding, for example cp1252"
        ) from error
    if not first:
        raise InputError(f"{path} is empty: give a CSV file with a header row")
    first[0] = first[0].removeprefix("\ufeff")
    return first


def choose_columns(
    path: Path, names: list[str], text_column: str | None, id_column: str | None
) -> Columns:
    """Pick the text and id columns, by option or by the default names."""
    found = ", ".join(repr(name) for name in names)
    if text_column is None:
        text_column = next((name for name in TEXT_COLUMN_CANDIDATES if name in names), None)
        if text_column is None:
            raise InputError(
                f"{path} has no 'review' or 'text' column (found: {found}): "
                "pass --text-column with the column that holds the reviews"
            )
    elif text_column not in names:
        raise InputError(
            f"{path} has no column {text_column!r} (found: {found}): pass --text-column "
            "with one of the columns found"
        )
    if id_column is None:
        id_column = ID_COLUMN_CANDIDATE if ID_COLUMN_CANDIDATE in names else None
    elif id_column not in names:
        raise InputError(
            f"{path} has no column {id_column!r} (found: {found}): pass --id-column "
            "with one of the columns found"
        )
    return Columns(names=names, text=text_column, id=id_column)


def read_chunks(
    path: Path,
    columns: Columns,
    encoding: str = "utf-8",
    separator: str = ",",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of `path` as record batches of string columns, in file order."""
    read_options = pacsv.ReadOptions(
        block_size=chunk_bytes,
        encoding=encoding,
        column_names=columns.names,
        skip_rows=1,
    )
    parse_options = pacsv.ParseOptions(delimiter=separator, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in columns.names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        yield from reader
    except pa.ArrowInvalid as error:
        raise InputError(
            f"{path}: the CSV could not be parsed ({error}): check its quoting"
        ) from error


def describe(path: Path) -> str:
    return str(path) if str(path) != "-" else "standard input"
