"""Resolve the inputs of a run and pair each with its output and rejects paths."""

from __future__ import annotations

import glob
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from score.errors import InputError

STANDARD_STREAM = "-"
INPUT_SUFFIXES = (".csv", ".csv.gz", ".csv.zst")
OUTPUT_FORMATS = ("csv", "csv.gz", "parquet", "jsonl")
REJECTS_SUFFIX = ".rejects.csv"
_COMPRESSION_OF_SUFFIX = {".gz": "gzip", ".zst": "zstd"}
_READ_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of an uncompressed input file, beginning at a record boundary.

    A range that does not start at byte 0 has no header row, so `header` gives the file's
    column names. `first_line` (1-based, the header being line 1) and `first_record` (0-based)
    number the range's first line and record as they are numbered in the whole file.
    """

    start: int
    end: int
    header: tuple[str, ...] = ()
    first_line: int = 1
    first_record: int = 0


@dataclass(frozen=True)
class Job:
    """One input with the paths its results go to; `-` is standard input or output.

    `rejects` is None when the output goes to standard output and no rejects path was given.
    `byte_range` limits the job to part of the input file (default: the whole input).
    """

    source: str
    output: str
    output_format: str
    rejects: str | None
    byte_range: ByteRange | None = None


def describe(path: str | Path) -> str:
    """Return the path as text, or `standard input` for `-`."""
    return "standard input" if str(path) == STANDARD_STREAM else str(path)


def expand_inputs(inputs: list[str | Path]) -> list[str]:
    """Expand folders and glob patterns into files, keeping the given order without repeats.

    A folder gives its *.csv, *.csv.gz and *.csv.zst files in name order, and a pattern the
    files it matches. Other names are kept as they are, so a missing file is reported when it
    is opened.
    """
    if not inputs:
        raise InputError("no input given: pass CSV files, folders, glob patterns or -")
    expanded: list[str] = []
    for spec in map(str, inputs):
        path = Path(spec)
        if spec == STANDARD_STREAM:
            matches = [spec]
        elif path.is_dir():
            matches = sorted(
                str(child)
                for child in path.iterdir()
                if child.is_file() and child.name.endswith(INPUT_SUFFIXES)
            )
            if not matches:
                raise InputError(
                    f"folder {spec} has no *.csv, *.csv.gz or *.csv.zst files: "
                    "pass another folder or the files themselves"
                )
        elif not path.exists() and glob.has_magic(spec):
            matches = sorted(glob.glob(spec))
            if not matches:
                raise InputError(f"pattern {spec} matched no files: check the pattern")
        else:
            matches = [spec]
        expanded.extend(match for match in matches if match not in expanded)
    return expanded


def input_stem(source: str) -> str:
    """Return the input's name without its CSV suffix: `a.csv.gz` gives `a`, `-` gives `stdin`."""
    if source == STANDARD_STREAM:
        return "stdin"
    name = Path(source).name
    for suffix in sorted(INPUT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def output_format_of(path: str) -> str:
    """Return the output format named by the path's extension, or raise `InputError`."""
    for output_format in sorted(OUTPUT_FORMATS, key=len, reverse=True):
        if path.endswith(f".{output_format}"):
            return output_format
    raise InputError(
        f"output {path} has an unsupported extension: use .csv, .csv.gz, .parquet or .jsonl"
    )


def rejects_path_of(output: str, output_format: str) -> str:
    """Return the rejects path beside an output: `a.scored.csv` gives `a.scored.rejects.csv`."""
    return output.removesuffix(f".{output_format}") + REJECTS_SUFFIX


def plan_jobs(
    sources: list[str],
    output: str | Path | None,
    output_format: str = "csv",
    rejects: str | Path | None = None,
) -> list[Job]:
    """Pair each input with its output and rejects paths, and check those paths up front.

    Without `output` each result goes beside its input as `NAME.scored.FORMAT` (standard input
    goes to standard output). With several inputs `output` must be an existing folder.
    """
    if output_format not in OUTPUT_FORMATS:
        raise InputError(
            f"format {output_format!r} is not supported: use one of {', '.join(OUTPUT_FORMATS)}"
        )
    if rejects is not None and len(sources) > 1:
        raise InputError("--rejects names one file but several inputs were given: drop it")
    output_text = None if output is None else str(output)
    folder = None
    if output_text is not None and output_text != STANDARD_STREAM and Path(output_text).is_dir():
        folder = Path(output_text)
    elif len(sources) > 1 and output_text is not None:
        raise InputError(
            f"-o {output_text} must be an existing folder when several inputs are given: "
            "create the folder first"
        )

    jobs = []
    for source in sources:
        if folder is not None:
            destination = str(folder / f"{input_stem(source)}.scored.{output_format}")
        elif output_text is not None:
            destination = output_text
        elif source == STANDARD_STREAM:
            destination = STANDARD_STREAM
        else:
            destination = str(Path(source).parent / f"{input_stem(source)}.scored.{output_format}")

        if destination == STANDARD_STREAM:
            if output_format != "csv":
                raise InputError(
                    f"standard output takes CSV only, not {output_format}: -o a file instead"
                )
            jobs.append(Job(source, destination, "csv", None if rejects is None else str(rejects)))
            continue
        this_format = output_format_of(destination) if folder is None else output_format
        rejects_path = rejects_path_of(destination, this_format) if rejects is None else rejects
        jobs.append(Job(source, destination, this_format, str(rejects_path)))
    _check_jobs(jobs)
    return jobs


def _check_jobs(jobs: list[Job]) -> None:
    if sum(job.output == STANDARD_STREAM for job in jobs) > 1:
        raise InputError(
            "several inputs cannot all go to standard output: pass -o with an existing folder"
        )
    sources = {_resolved(job.source) for job in jobs if job.source != STANDARD_STREAM}
    written: dict[Path, str] = {}
    for job in jobs:
        for path, option in ((job.output, "-o"), (job.rejects, "--rejects")):
            if path is None or path == STANDARD_STREAM:
                continue
            resolved = _resolved(path)
            if resolved in sources:
                raise InputError(f"{option} {path} is an input file: choose another {option}")
            if resolved in written:
                raise InputError(
                    f"inputs {describe(written[resolved])} and {describe(job.source)} would both "
                    f"be written to {path}: score them into different folders"
                )
            written[resolved] = job.source
            check_output_folder(Path(path), option)


def check_summary_path(summary: Path, inputs: list[str | Path]) -> None:
    """Raise `InputError` when the summary would overwrite an input or cannot be written.

    It runs before anything else, so that a failed run never writes its summary over an input.
    Folders and glob patterns among `inputs` are expanded as far as they can be.
    """
    candidates: set[Path] = set()
    for spec in map(str, inputs):
        if spec == STANDARD_STREAM:
            continue
        path = Path(spec)
        if path.is_dir():
            candidates.update(child.resolve() for child in path.iterdir())
        elif not path.exists() and glob.has_magic(spec):
            candidates.update(Path(match).resolve() for match in glob.glob(spec))
        else:
            candidates.add(path.resolve())
    if summary.resolve() in candidates:
        raise InputError(f"--summary {summary} is an input file: choose another --summary")
    check_output_folder(summary, "--summary")


def check_output_folder(path: Path, option: str = "-o") -> None:
    """Raise `InputError` unless the folder of `path` exists and this process may write to it.

    `option` is the command-line option that named `path`, for the message.
    """
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"output folder {folder} not found: create it or choose another {option}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"output folder {folder} is not writable: fix its permissions or choose another "
            f"{option}"
        )
    if path.is_dir():
        raise InputError(f"output {path} is a folder: choose a file name for {option}")


def _resolved(path: str) -> Path:
    return Path(path).resolve()


def _readable_file(source: str) -> Path:
    path = Path(source)
    if not path.exists():
        raise InputError(f"input {source} not found: check the path")
    if path.is_dir():
        raise InputError(f"input {source} is a folder: pass the CSV files inside it")
    if not os.access(path, os.R_OK):
        raise InputError(f"input {source} is not readable: fix its permissions")
    return path


def open_binary(source: str) -> BinaryIO:
    """Open an input for reading bytes, decompressing `.gz` and `.zst` files on the fly."""
    if source == STANDARD_STREAM:
        return sys.stdin.buffer
    path = _readable_file(source)
    compression = _COMPRESSION_OF_SUFFIX.get(path.suffix)
    try:
        stream = pa.input_stream(str(path), compression=compression)
    except (OSError, pa.ArrowException) as error:
        raise InputError(f"input {source} could not be opened ({error}): check the file") from error
    return io.BufferedReader(stream, _READ_BUFFER_BYTES)


class _RangeReader(io.RawIOBase):
    """Reads the bytes of a file from `start` up to `end`, then reports the end of the file."""

    def __init__(self, file: BinaryIO, start: int, end: int):
        file.seek(start)
        self.file = file
        self.remaining = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.remaining)
        if size <= 0:
            return 0
        count = self.file.readinto(memoryview(buffer)[:size])
        self.remaining -= count
        return count

    def close(self) -> None:
        self.file.close()
        super().close()


def open_job_input(job: Job) -> BinaryIO:
    """Open the input of `job`, or only its `byte_range` when it has one."""
    if job.byte_range is None:
        return open_binary(job.source)
    if Path(job.source).suffix in _COMPRESSION_OF_SUFFIX:
        raise InputError(f"input {job.source} is compressed: score it whole, without a byte range")
    file = _readable_file(job.source).open("rb", buffering=0)
    raw = _RangeReader(file, job.byte_range.start, job.byte_range.end)
    return io.BufferedReader(raw, _READ_BUFFER_BYTES)
