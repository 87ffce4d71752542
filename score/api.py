"""The Python API of the scorer: `score_files` does what `python -m score` does."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from score import reader
from score.errors import InputError
from score.model import DEFAULT_BATCH_SIZE, SentimentModel
from score.writer import AtomicCsvWriter

logger = logging.getLogger(__name__)

POSITIVE = "positive"
NEGATIVE = "negative"


@dataclass
class FileSummary:
    """Counts of one scored input file."""

    input: str
    output: str
    rows: int = 0
    positive: int = 0
    seconds: float = 0.0


@dataclass
class RunSummary:
    """Summary of a run, returned by `score_files` and written as JSON by `--summary`."""

    model_id: str
    model_path: str
    files: list[FileSummary] = field(default_factory=list)
    rows: int = 0
    positive: int = 0
    seconds: float = 0.0
    exit_code: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def default_output(path: Path) -> Path:
    """Return `INPUT.scored.csv` beside the input: `reviews.csv` gives `reviews.scored.csv`."""
    name = path.name.removesuffix(".csv")
    return path.with_name(f"{name}.scored.csv")


def score_files(
    inputs: list[str | Path],
    output: str | Path | None = None,
    *,
    model: str | Path | SentimentModel | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    threshold: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_bytes: int = reader.DEFAULT_CHUNK_BYTES,
    encoding: str = "utf-8",
    separator: str = ",",
    threads: int | None = None,
) -> RunSummary:
    """Score each CSV file in `inputs` and write one output row per input row, in order.

    Each output row has the id (the `id_column`, else the 0-based row number as `row`), `score`
    (probability that the review is positive) and `label` (`positive` when score >= threshold).
    Raises `InputError` or `ModelError`; no output file is left behind when one is raised.
    """
    started = time.monotonic()
    if not isinstance(model, SentimentModel):
        model = SentimentModel(model, threads=threads, batch_size=batch_size)
    threshold = model.threshold if threshold is None else threshold
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold {threshold} is invalid: use a value from 0 to 1")
    paths = [Path(path) for path in inputs]
    if output is not None and len(paths) > 1:
        raise InputError("one -o file was given for several inputs: score them one at a time")

    summary = RunSummary(model_id=model.model_id, model_path=str(model.path))
    logger.info("model %s (sha256 %s); inputs: %s", model.model_id, model.checksum, paths)
    for path in paths:
        destination = Path(output) if output is not None else default_output(path)
        summary.files.append(
            _score_file(
                model,
                path,
                destination,
                text_column,
                id_column,
                threshold,
                chunk_bytes,
                encoding,
                separator,
            )
        )
    summary.rows = sum(file.rows for file in summary.files)
    summary.positive = sum(file.positive for file in summary.files)
    summary.seconds = round(time.monotonic() - started, 3)
    logger.info(
        "scored %d rows (%d positive) in %.2f s, %.0f rows/s",
        summary.rows,
        summary.positive,
        summary.seconds,
        summary.rows / max(summary.seconds, 1e-9),
    )
    return summary


def _score_file(
    model: SentimentModel,
    path: Path,
    destination: Path,
    text_column: str | None,
    id_column: str | None,
    threshold: float,
    chunk_bytes: int,
    encoding: str,
    separator: str,
) -> FileSummary:
    started = time.monotonic()
    if not path.exists():
        raise InputError(f"input {path} not found: check the path")
    if path.is_dir():
        raise InputError(f"input {path} is a folder: pass the CSV files inside it")
    if destination.resolve() == path.resolve():
        raise InputError(f"output {destination} is the input file: choose another -o")
    names = reader.read_header(path, encoding, separator)
    columns = reader.choose_columns(path, names, text_column, id_column)
    id_name = columns.id or reader.ROW_NUMBER_COLUMN
    schema = pa.schema(
        [
            (id_name, pa.string() if columns.id else pa.int64()),
            ("score", pa.float32()),
            ("label", pa.string()),
        ]
    )

    summary = FileSummary(input=str(path), output=str(destination))
    writer = AtomicCsvWriter(destination, schema)
    try:
        for batch in reader.read_chunks(path, columns, encoding, separator, chunk_bytes):
            texts = batch.column(columns.text)
            scores = model.score_texts(texts)
            positive = scores >= threshold
            if columns.id:
                ids = batch.column(columns.id)
            else:
                ids = pa.array(np.arange(summary.rows, summary.rows + len(scores)), pa.int64())
            labels = pc.if_else(pa.array(positive), POSITIVE, NEGATIVE)
            writer.write(pa.table([ids, pa.array(scores), labels], schema=schema))
            summary.rows += len(scores)
            summary.positive += int(positive.sum())
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    summary.seconds = round(time.monotonic() - started, 3)
    logger.info("%s: %d rows -> %s", path, summary.rows, destination)
    return summary
