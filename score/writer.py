"""Write result tables to a temporary file and rename it into place only when complete."""

from __future__ import annotations

import contextlib
import csv
import glob
import gzip
import io
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from score.errors import InputError, OutputClosed
from score.sources import STANDARD_STREAM, check_output_folder

logger = logging.getLogger(__name__)

_TEMPORARY_SUFFIX = ".tmp"


def temporary_prefix(path: Path) -> str:
    """Return the name prefix of the temporary files written for `path`."""
    return f".{path.name}."


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files for `path` left by runs that were killed.

    A temporary file's name carries the id of the process writing it, so files of a process
    that is still running (a concurrent run to the same path) are left alone.
    """
    pattern = re.compile(re.escape(temporary_prefix(path)) + r"(\d+)\.[^.]+" + _TEMPORARY_SUFFIX)
    for candidate in path.parent.glob(f"{glob.escape(temporary_prefix(path))}*{_TEMPORARY_SUFFIX}"):
        match = pattern.fullmatch(candidate.name)
        if match is None or _process_running(int(match.group(1))):
            continue
        logger.warning("removing %s, left by a run that was killed", candidate)
        candidate.unlink(missing_ok=True)


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AtomicFile:
    """A binary file that appears at `path` only after `commit()`.

    Until then the bytes go to a hidden temporary file in the same folder, so a crash or a kill
    leaves the destination as it was, and `discard()` removes the temporary file.
    """

    def __init__(self, path: Path):
        self.path = path
        check_output_folder(path)
        remove_stale_temporaries(path)
        prefix = f"{temporary_prefix(path)}{os.getpid()}."
        try:
            handle, temporary = tempfile.mkstemp(
                prefix=prefix, suffix=_TEMPORARY_SUFFIX, dir=path.parent
            )
        except OSError as error:
            raise InputError(
                f"output folder {path.parent} is not writable ({error.strerror}): "
                "fix its permissions or choose another -o"
            ) from error
        self.temporary = Path(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates files readable by the owner only.
        self.file = os.fdopen(handle, "wb")

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        # Closing flushes buffered bytes, which fails again when the disk is full.
        with contextlib.suppress(OSError):
            self.file.close()
        self.temporary.unlink(missing_ok=True)


def write_error(path: str | Path, error: OSError) -> InputError:
    """Return the error to raise when writing `path` failed, for example on a full disk."""
    if isinstance(error, BrokenPipeError):
        return OutputClosed(
            f"the reader of {path} closed it before the end (as `head` does): "
            "rows after that were not written"
        )
    return InputError(
        f"writing {path} failed ({error.strerror or error}): free disk space or choose another -o"
    )


class TableWriter:
    """Writer of result tables in one format, to a file (atomically) or to standard output."""

    def __init__(self, path: str, schema: pa.Schema):
        self.path = path
        self.schema = schema
        self.target: AtomicFile | None = None
        self.finished = False
        if path == STANDARD_STREAM:
            self.stream: IO[bytes] = sys.stdout.buffer
        else:
            self.target = AtomicFile(Path(path))
            self.stream = self.target.file
        self.open()

    def open(self) -> None:
        """Prepare the format's writer on `self.stream`."""

    def write(self, table: pa.Table) -> None:
        try:
            self.write_table(table)
        except OSError as error:
            raise write_error(self.path, error) from error

    def write_table(self, table: pa.Table) -> None:
        raise NotImplementedError

    def close_format(self) -> None:
        """Finish the format: write any footer and flush buffered bytes to `self.stream`."""

    def commit(self) -> None:
        try:
            self.close_format()
            if self.target is None:
                self.stream.flush()
            else:
                self.target.commit()
        except OSError as error:
            raise write_error(self.path, error) from error
        self.finished = True

    def discard(self) -> None:
        """Drop the temporary file unless committed. Rows sent to standard output stay there."""
        if self.target is None or self.finished:
            return
        self.finished = True
        try:
            self.close_format()
        except (OSError, pa.ArrowException, ValueError):
            pass
        self.target.discard()


def _text_columns(table: pa.Table) -> list[list[str]]:
    columns = []
    for column in table.columns:
        if not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        columns.append(column.fill_null("").to_pylist())
    return columns


class CsvTableWriter(TableWriter):
    """CSV with a header row, quoting only fields that need it, optionally gzip-compressed."""

    compress = False

    def open(self) -> None:
        binary = self.stream
        if self.compress:
            binary = gzip.GzipFile(fileobj=self.stream, mode="wb", mtime=0)
        self.binary = binary
        self.text = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=False)
        self.csv = csv.writer(self.text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        self.csv.writerow(self.schema.names)

    def write_table(self, table: pa.Table) -> None:
        self.csv.writerows(zip(*_text_columns(table), strict=True))
        # Handing each chunk to the file right away keeps the text buffer small.
        self.text.flush()

    def close_format(self) -> None:
        self.text.flush()
        self.text.detach()
        if self.binary is not self.stream:
            self.binary.close()


class GzipCsvTableWriter(CsvTableWriter):
    compress = True


class JsonLinesTableWriter(TableWriter):
    """One JSON object per line; a missing score is `null`."""

    def write_table(self, table: pa.Table) -> None:
        names = table.column_names
        rows = zip(*(_json_values(column) for column in table.columns), strict=True)
        lines = (json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) for row in rows)
        self.stream.write(("\n".join(lines) + "\n").encode("utf-8") if len(table) else b"")


def _json_values(column: pa.ChunkedArray) -> list:
    if pa.types.is_floating(column.type):
        # The shortest text of a float32 value, read back as a Python float, prints the same.
        texts = pc.cast(column, pa.string()).to_pylist()
        return [None if text is None else float(text) for text in texts]
    return column.to_pylist()


class ParquetTableWriter(TableWriter):
    def open(self) -> None:
        self.parquet = pq.ParquetWriter(self.stream, self.schema)

    def write_table(self, table: pa.Table) -> None:
        self.parquet.write_table(table)

    def close_format(self) -> None:
        self.parquet.close()


WRITERS = {
    "csv": CsvTableWriter,
    "csv.gz": GzipCsvTableWriter,
    "jsonl": JsonLinesTableWriter,
    "parquet": ParquetTableWriter,
}


def open_writer(path: str, output_format: str, schema: pa.Schema) -> TableWriter:
    """Open a writer of `output_format` whose file appears at `path` on `commit()`."""
    return WRITERS[output_format](path, schema)
