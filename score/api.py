"""The Python API of the scorer: `score_files` does what `python -m score` does."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from score import reader, sources
from score.chunks import output_schema, score_records
from score.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, InputError, ScoringError
from score.model import DEFAULT_BATCH_SIZE, SentimentModel
from score.progress import DEFAULT_PROGRESS_SECONDS, PeriodicLog, Progress
from score.sources import Job
from score.summary import FileSummary, RunSummary

logger = logging.getLogger(__name__)

# Peak memory grows with the chunk's text: on IMDB test reviews (1.3 kB on average) it rose by
# about 25 kB per review from chunks of 2,000 to 10,000, an estimate from two runs.
DEFAULT_CHUNK_SIZE = 5_000
DEFAULT_MAX_REJECT_RATE = 0.01

__all__ = ["Job", "RunSummary", "FileSummary", "ScoringOptions", "score_file", "score_files"]


@dataclass(frozen=True)
class ScoringOptions:
    """Options for reading and scoring each input, named as the `score_files` arguments.

    `threshold` None stands for the model's threshold, which `score_files` fills in.
    """

    threshold: float | None = None
    text_column: str | None = None
    id_column: str | None = None
    keep_columns: tuple[str, ...] = ()
    chunk_size: int = DEFAULT_CHUNK_SIZE
    encoding: str = "utf-8"
    sep: str = ","
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
    label_column: str | None = None

    def check(self) -> None:
        """Raise `InputError` naming the first invalid option."""
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise InputError(f"threshold {self.threshold} is invalid: use a value from 0 to 1")
        if self.chunk_size < 1:
            raise InputError(f"chunk size {self.chunk_size} is invalid: use 1 or more rows")
        if not 0 <= self.max_reject_rate <= 1:
            raise InputError(
                f"max reject rate {self.max_reject_rate} is invalid: use a fraction from 0 to 1"
            )
        reader.codec_name(self.encoding)


def score_file(
    model: SentimentModel,
    job: Job,
    options: ScoringOptions,
    progress: Progress | None = None,
) -> FileSummary:
    """Score one input into its output file and rejects file, and return its counts.

    This is the unit of work for a worker process: load one `SentimentModel` per process and
    pass it to every call, with a `Job` from `sources.plan_jobs` (or built by hand) and the
    options of the run, checked with `options.check()`. Output and rejects appear at their
    paths only when complete. On an error neither is left behind, except that when more
    records are rejected than `options.max_reject_rate` allows, the rejects file is written
    (to show why) and `RejectRateExceeded` is raised without writing the output. A raised
    `ScoringError` carries the file's counts so far in `file_summary`.
    """
    if options.threshold is None:
        options = replace(options, threshold=model.threshold)
    summary = FileSummary(
        input=job.source, output=job.output, rejects=job.rejects, threshold=options.threshold
    )
    try:
        _score_into(summary, model, job, options, progress or PeriodicLog())
    except ScoringError as error:
        error.file_summary = summary
        raise
    return summary


def _score_into(
    summary: FileSummary,
    model: SentimentModel,
    job: Job,
    options: ScoringOptions,
    progress: Progress,
) -> None:
    score_records(summary, model, job, options, progress)
    log_file_summary(summary)


def log_file_summary(summary: FileSummary) -> None:
    """Log the counts of one scored file."""
    logger.info(
        "%s: %d records, %d scored, %d without score, %d rejected -> %s (%.0f records/s)",
        sources.describe(summary.input),
        summary.records,
        summary.statuses["ok"],
        summary.rows - summary.statuses["ok"],
        summary.rejected,
        "standard output" if summary.output == sources.STANDARD_STREAM else summary.output,
        summary.records / max(summary.seconds, 1e-9),
    )


class Engine(Protocol):
    """A runner of a run's planned jobs outside this process, such as on a Dask cluster.

    `score_jobs` fills `run.files` in job order and raises the first failing file's error, as
    `score_files` does in this process.
    """

    def settings(self) -> dict[str, object]:
        """Return the engine's settings, added to the run summary's options."""
        ...

    def score_jobs(
        self,
        run: RunSummary,
        jobs: list[Job],
        model: SentimentModel,
        options: ScoringOptions,
        progress: Progress,
    ) -> None: ...


def check_header(job: Job, options: ScoringOptions) -> None:
    """Read the header of a file input and raise `InputError` if its columns do not fit."""
    if job.source == sources.STANDARD_STREAM:
        return
    with sources.open_binary(job.source) as stream:
        records = reader.CsvRecords(stream, job.source, options.encoding, options.sep)
        columns = reader.choose_columns(
            job.source,
            records.header,
            options.text_column,
            options.id_column,
            options.keep_columns,
            options.label_column,
        )
    output_schema(columns)


def score_files(
    inputs: list[str | Path] | str | Path,
    output: str | Path | None = None,
    *,
    model: str | Path | SentimentModel | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    keep_columns: list[str] | tuple[str, ...] = (),
    threshold: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    encoding: str = "utf-8",
    sep: str = ",",
    threads: int | None = None,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    label_column: str | None = None,
    output_format: str = "csv",
    rejects: str | Path | None = None,
    summary: str | Path | None = None,
    progress: Progress | None = None,
    progress_seconds: float = DEFAULT_PROGRESS_SECONDS,
    engine: Engine | None = None,
) -> RunSummary:
    """Score every input and write one output row per well-formed record, in input order.

    `inputs` are CSV files (.csv, .csv.gz, .csv.zst), folders, glob patterns or `-` for
    standard input. Each output row has the id (`id_column`, else the 0-based record number as
    `row`), the `keep_columns`, `score` (probability that the review is positive), `label` and
    `status`. Malformed records go to the rejects file. Files are scored one after the other
    and the run stops at the first failure. Outputs of the files finished before it are kept,
    and the failing file's output is not written.

    With `label_column`, the scores of the rows with status `ok` are compared with the labels
    in that column (1/0, pos/neg, positive/negative or true/false), and the summary gains the
    accuracy, precision, recall, F1, ROC AUC and confusion matrix under `evaluation`.

    `engine` scores the jobs elsewhere, as `score.dask_engine.DaskEngine` does on a Dask
    cluster. `model` and `threads` then set only the model read here for its metadata.

    Raises `InputError`, `ModelError` or `RejectRateExceeded`, with the run summary in the
    exception's `summary`. The summary is also written as JSON to `summary` when that is given,
    whether the run fails or not.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if isinstance(keep_columns, str):
        keep_columns = [name.strip() for name in keep_columns.split(",") if name.strip()]
    run = RunSummary(started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    options = ScoringOptions(
        threshold=threshold,
        text_column=text_column,
        id_column=id_column,
        keep_columns=tuple(keep_columns),
        chunk_size=chunk_size,
        encoding=encoding,
        sep=sep,
        max_reject_rate=max_reject_rate,
        label_column=label_column,
    )
    run.options = {**asdict(options), "batch_size": batch_size, "output_format": output_format}
    if engine is not None:
        run.options.update(engine.settings())
    started = time.monotonic()
    try:
        if summary is not None:
            try:
                sources.check_summary_path(Path(summary), inputs)
            except InputError:
                summary = None  # The path is unsafe or unwritable: write no summary at all.
                raise
        if batch_size < 1:
            raise InputError(f"batch size {batch_size} is invalid: use 1 or more reviews")
        options.check()
        run.inputs = sources.expand_inputs(inputs)
        jobs = sources.plan_jobs(run.inputs, output, output_format, rejects)
        if not isinstance(model, SentimentModel):
            model = SentimentModel(model, threads=threads, batch_size=batch_size)
        run.model_id, run.model_path = model.model_id, str(model.path)
        run.model_sha256 = model.checksum
        if options.threshold is None:
            options = replace(options, threshold=model.threshold)
            run.options["threshold"] = options.threshold
        progress = progress or PeriodicLog(progress_seconds)
        _start_jobs(run, jobs, model, options)
        if engine is None:
            _score_jobs(run, jobs, model, options, progress)
        else:
            engine.score_jobs(run, jobs, model, options, progress)
    except (KeyboardInterrupt, SystemExit) as stop:
        # Ctrl-C, or SIGTERM through the command line's handler: the summary records the stop.
        code = stop.code if isinstance(stop, SystemExit) else EXIT_INTERRUPTED
        run.exit_code = code if isinstance(code, int) else EXIT_UNEXPECTED
        run.error = "stopped by a signal before the end"
        _finish(run, started, summary)
        raise
    except Exception as error:
        run.exit_code = getattr(error, "exit_code", EXIT_UNEXPECTED)
        run.error = str(error) if isinstance(error, ScoringError) else repr(error)
        _finish(run, started, summary)
        if isinstance(error, ScoringError):
            error.summary = run
        raise
    _finish(run, started, summary)
    return run


def _start_jobs(
    run: RunSummary, jobs: list[Job], model: SentimentModel, options: ScoringOptions
) -> None:
    for job in jobs:
        check_header(job, options)
    logger.info(
        "scoring %d input(s): %s; model %s (sha256 %s); options %s",
        len(jobs),
        ", ".join(sources.describe(job.source) for job in jobs),
        model.model_id,
        model.checksum,
        ", ".join(f"{key}={value}" for key, value in run.options.items()),
    )


def _score_jobs(
    run: RunSummary,
    jobs: list[Job],
    model: SentimentModel,
    options: ScoringOptions,
    progress: Progress,
) -> None:
    for job in jobs:
        file_summary = FileSummary(
            input=job.source, output=job.output, rejects=job.rejects, threshold=options.threshold
        )
        run.files.append(file_summary)
        _score_into(file_summary, model, job, options, progress)


def _finish(run: RunSummary, started: float, summary_path: str | Path | None) -> None:
    run.seconds = round(time.monotonic() - started, 3)
    statuses = run.statuses
    level = logging.INFO if run.exit_code == 0 else logging.WARNING
    logger.log(
        level,
        "%s: %d file(s), %d records = %d scored + %d without score + %d rejected; "
        "%d positive; %.1f s, %.0f records/s",
        "done" if run.exit_code == 0 else f"failed with exit code {run.exit_code}",
        len(run.files),
        run.records,
        statuses["ok"],
        run.rows - statuses["ok"],
        run.rejected,
        run.positive,
        run.seconds,
        run.records / max(run.seconds, 1e-9),
    )
    if summary_path is not None:
        try:
            run.write_json(summary_path)
        except (OSError, ScoringError) as error:
            logger.error("writing the summary %s failed: %s", summary_path, error)
