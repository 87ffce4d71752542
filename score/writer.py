"""Write scored rows to a temporary file and rename it into place only when complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from score.errors import InputError


class AtomicCsvWriter:
    """A CSV writer whose file appears at `path` only after `commit()`.

    Until then the rows go to a hidden temporary file in the same folder, so a crash or a kill
    leaves the destination as it was; `discard()` removes the temporary file.
    """

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        folder = path.parent
        if not folder.is_dir():
            raise InputError(f"output folder {folder} not found: create it or choose another -o")
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        except PermissionError as error:
            raise InputError(
                f"output folder {folder} is not writable: choose another -o or fix its permissions"
            ) from error
        self.temporary = Path(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates files readable by the owner only.
        self.file = os.fdopen(handle, "wb")
        self.writer = pacsv.CSVWriter(self.file, schema)

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        self.writer.write(table)

    def commit(self) -> None:
        self.writer.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        try:
            self.writer.close()
        except (OSError, pa.ArrowException):
            pass
        self.file.close()
        self.temporary.unlink(missing_ok=True)
