"""Score the records of one input chunk by chunk and write the result and rejects tables."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from score import reader, sources
from score.errors import InputError, RejectRateExceeded
from score.evaluation import parse_labels
from score.model import SentimentModel
from score.progress import Progress
from score.reader import Columns, CsvRecords, Record, Reject
from score.summary import STATUS_EMPTY, STATUS_OK, FileSummary
from score.writer import TableWriter, open_writer

if TYPE_CHECKING:
    from score.api import ScoringOptions

logger = logging.getLogger(__name__)

POSITIVE = "positive"
NEGATIVE = "negative"
RESULT_COLUMNS = ("score", "label", "status")
REJECTS_SCHEMA = pa.schema([("line", pa.int64()), ("reason", pa.string()), ("record", pa.string())])
# Rejects are logged one by one up to this many per file when there is no rejects file.
MAX_LOGGED_REJECTS = 20


def output_schema(columns: Columns) -> pa.Schema:
    """Return the output columns: the id, the kept input columns, then the results."""
    id_field = (
        pa.field(columns.id, pa.string())
        if columns.id
        else pa.field(reader.ROW_NUMBER_COLUMN, pa.int64())
    )
    kept_columns = [name for name in columns.keep if name != id_field.name]
    names = [id_field.name, *kept_columns, *RESULT_COLUMNS]
    clash = next((name for name in names if names.count(name) > 1), None)
    if clash is not None:
        raise InputError(
            f"column {clash!r} would appear twice in the output: drop it from --keep-columns"
        )
    return pa.schema(
        [
            id_field,
            *(pa.field(name, pa.string()) for name in kept_columns),
            pa.field("score", pa.float32()),
            pa.field("label", pa.string()),
            pa.field("status", pa.string()),
        ]
    )


class RejectsSink:
    """Rejected records, written to an atomic CSV file or, without a path, logged."""

    def __init__(self, path: str | None, name: str):
        self.name = name
        self.pending: list[Reject] = []
        self.logged = 0
        self.writer = None if path is None else open_writer(path, "csv", REJECTS_SCHEMA)

    def add(self, reject: Reject) -> None:
        if self.writer is not None:
            self.pending.append(reject)
        elif self.logged < MAX_LOGGED_REJECTS:
            self.logged += 1
            logger.warning("%s line %d rejected: %s", self.name, reject.line, reject.reason)

    def flush(self) -> None:
        if self.writer is None or not self.pending:
            return
        table = pa.table(
            [
                pa.array([reject.line for reject in self.pending], pa.int64()),
                pa.array([reject.reason for reject in self.pending], pa.string()),
                pa.array([reject.text for reject in self.pending], pa.string()),
            ],
            schema=REJECTS_SCHEMA,
        )
        self.writer.write(table)
        self.pending.clear()

    def commit(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.commit()

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()


def score_records(
    summary: FileSummary,
    model: SentimentModel,
    job: sources.Job,
    options: ScoringOptions,
    progress: Progress,
) -> None:
    """Score `job.source` into `job.output`, counting into `summary` as it goes.

    The rejects file is committed before the output. When the reject rate is above
    `options.max_reject_rate` the output is not written and `RejectRateExceeded` is raised. On
    any other error neither file is written.
    """
    name = sources.describe(job.source)
    started = time.monotonic()
    stream = sources.open_job_input(job)
    byte_range = job.byte_range
    writer: TableWriter | None = None
    rejects: RejectsSink | None = None
    try:
        if byte_range is None or byte_range.start == 0:
            records = CsvRecords(stream, name, options.encoding, options.sep)
        else:
            records = CsvRecords(
                stream,
                name,
                options.encoding,
                options.sep,
                header=byte_range.header,
                first_line=byte_range.first_line,
            )
        first_record = 0 if byte_range is None else byte_range.first_record
        columns = reader.choose_columns(
            name,
            records.header,
            options.text_column,
            options.id_column,
            options.keep_columns,
            options.label_column,
        )
        schema = output_schema(columns)
        rejects = RejectsSink(job.rejects, name)
        writer = open_writer(job.output, job.output_format, schema)
        chunks = _chunks(records, options.chunk_size, summary, rejects, first_record)
        for numbers, rows in chunks:
            table = score_chunk(model, columns, schema, numbers, rows, options.threshold)
            _count(summary, table, options.threshold)
            if columns.label is not None:
                _collect_labels(summary, name, columns, numbers, rows, table)
            writer.write(table)
            rejects.flush()
            progress.update(name, summary.records, time.monotonic() - started)
        summary.blank_lines = records.blank_lines
        if rejects.logged < summary.rejected and job.rejects is None:
            logger.warning("%s: %d more records rejected", name, summary.rejected - rejects.logged)
        rejects.commit()
        check_reject_rate(summary, name, options.max_reject_rate)
        writer.commit()
        summary.written = True
    except BaseException:
        for target in (writer, rejects):
            if target is not None:
                target.discard()
        raise
    finally:
        progress.finish(name)
        if job.source != sources.STANDARD_STREAM:
            stream.close()
        summary.seconds = round(time.monotonic() - started, 3)


def check_reject_rate(summary: FileSummary, name: str, max_reject_rate: float) -> None:
    """Raise `RejectRateExceeded` when the file's share of rejected records is too high."""
    rate = summary.rejected / summary.records if summary.records else 0.0
    if rate > max_reject_rate:
        where = summary.rejects or "the warnings above"
        raise RejectRateExceeded(
            f"{name}: {summary.rejected} of {summary.records} records rejected ({rate:.1%}), "
            f"more than --max-reject-rate {max_reject_rate:g} allows: see {where} and fix the "
            "file, or raise --max-reject-rate"
        )


def _chunks(
    records: CsvRecords,
    chunk_size: int,
    summary: FileSummary,
    rejects: RejectsSink,
    first_record: int = 0,
) -> Iterator[tuple[list[int], list[list[str]]]]:
    numbers: list[int] = []
    rows: list[list[str]] = []
    for item in records:
        if type(item) is Record:
            numbers.append(first_record + summary.records)
            rows.append(item.fields)
        else:
            summary.rejected += 1
            rejects.add(item)
        summary.records += 1
        if len(rows) == chunk_size:
            yield numbers, rows
            numbers, rows = [], []
    if rows:
        yield numbers, rows


def score_chunk(
    model: SentimentModel,
    columns: Columns,
    schema: pa.Schema,
    numbers: list[int],
    rows: list[list[str]],
    threshold: float,
) -> pa.Table:
    """Return the output table of a chunk of well-formed records.

    A review that is empty or only white space gets no score or label and status `empty`.
    """
    texts = _column(rows, columns.index(columns.text))
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0).to_numpy(
        zero_copy_only=False
    )
    scores = np.zeros(len(rows), dtype=np.float32)
    present = np.flatnonzero(~empty)
    if len(present):
        scores[present] = model.score_texts(texts.take(pa.array(present)))
    labels = np.where(scores >= threshold, POSITIVE, NEGATIVE)
    statuses = np.where(empty, STATUS_EMPTY, STATUS_OK)

    if columns.id:
        ids = _column(rows, columns.index(columns.id))
    else:
        ids = pa.array(numbers, pa.int64())
    kept_columns = schema.names[1 : -len(RESULT_COLUMNS)]
    arrays = [
        ids,
        *(_column(rows, columns.index(name)) for name in kept_columns),
        pa.array(scores, pa.float32(), mask=empty),
        pa.array(labels, pa.string(), mask=empty),
        pa.array(statuses, pa.string()),
    ]
    return pa.table(arrays, schema=schema)


def _collect_labels(
    summary: FileSummary,
    name: str,
    columns: Columns,
    numbers: list[int],
    rows: list[list[str]],
    table: pa.Table,
) -> None:
    scored = np.flatnonzero(table.column("status").to_numpy(zero_copy_only=False) == STATUS_OK)
    index = columns.index(columns.label)
    values = [rows[row][index] for row in scored]
    labels = parse_labels(values, columns.label, name, [numbers[row] for row in scored])
    scores = table.column("score").to_numpy(zero_copy_only=False)[scored].astype(np.float32)
    summary.labelled.add(labels, scores)


def _column(rows: list[list[str]], index: int) -> pa.Array:
    return pa.array([row[index] for row in rows], pa.string())


def _count(summary: FileSummary, table: pa.Table, threshold: float) -> None:
    scores = table.column("score").drop_null().to_numpy()
    summary.statuses[STATUS_OK] += len(scores)
    summary.statuses[STATUS_EMPTY] += len(table) - len(scores)
    summary.positive += int((scores >= threshold).sum())
    summary.histogram.add(scores)
