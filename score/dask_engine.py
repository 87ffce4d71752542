"""Score many CSV files, or one large one, on a Dask cluster: `python -m score --engine dask`.

Each input becomes one or more parts. A file with an id column is split at record boundaries
(`score.csv_split`) into parts of about `part_bytes`. A file without one stays whole, because
its ids are row numbers that a part cannot know without reading the records before it. One
task per part scores it with the worker's cached model (`score.model_cache`) and writes the
part to a temporary file renamed into place, so a task that Dask reruns after losing a worker
rewrites the same part. One more task per input then concatenates the parts, in order, into
`NAME.scored.csv`. The tasks are plain futures, not dask.dataframe, so nothing runs on the
client but planning: reading each header and scanning split files for record boundaries.

Inputs, outputs and a `--model` file must be at the same paths on the client and on every
worker, as on one machine or a shared file system.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from distributed import Client, KilledWorker, LocalCluster, get_worker
from distributed.comm import get_address_host

from score import csv_split, reader
from score.api import NEGATIVE, POSITIVE, FileSummary, RunSummary, default_output
from score.errors import ClusterError, InputError
from score.model import DEFAULT_BATCH_SIZE, SentimentModel, available_cores
from score.model_cache import cached_model
from score.writer import AtomicCsvWriter

logger = logging.getLogger(__name__)

DEFAULT_PART_BYTES = 64 << 20
WORKER_WAIT_SECONDS = 120


@dataclass(frozen=True)
class Part:
    """Bytes `start` to `end` of an input; `end` None streams the whole file."""

    index: int
    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class FilePlan:
    """An input file, its output and its parts."""

    input: Path
    destination: Path
    columns: reader.Columns
    parts: list[Part] = field(default_factory=list)

    @property
    def parts_folder(self) -> Path:
        return self.destination.parent / f".{self.destination.name}.parts"

    def part_path(self, index: int) -> Path:
        return self.parts_folder / f"part-{index:05d}.csv"


@dataclass(frozen=True)
class Settings:
    """Settings a task needs to load the model and score a part, small enough to pickle."""

    model_path: str | None
    model_checksum: str
    batch_size: int
    threshold: float
    encoding: str
    separator: str
    chunk_bytes: int
    threads: int | None
    task_slots_by_host: dict[str, int]


def score_files_dask(
    inputs: list[str | Path],
    output_dir: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    part_bytes: int = DEFAULT_PART_BYTES,
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
    """Score each CSV file in `inputs` on a Dask cluster, as `score_files` does in-process.

    Writes `output_dir/NAME.scored.csv` per input (default: beside the input) with the rows,
    ids, scores and labels that `score_files` writes. `scheduler` is the address of a running
    Dask scheduler. Without it, a local cluster of `workers` processes (default: one per
    available core) with one thread each is started and closed. `threads` sets onnxruntime's
    threads per worker process, by default the host's cores divided by the task slots of the
    workers on that host. A file's `seconds` in the summary is the sum of its tasks' times.
    Raises `InputError`, `ModelError` or `ClusterError`.
    """
    started = time.monotonic()
    # Workers resolve the shipped model in their own installation, checked by its checksum.
    model_path = None if model is None else str(Path(getattr(model, "path", model)).resolve())
    if not isinstance(model, SentimentModel):
        model = SentimentModel(model, threads=1, batch_size=batch_size)
    threshold = model.threshold if threshold is None else threshold
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold {threshold} is invalid: use a value from 0 to 1")
    if workers is not None and workers < 1:
        raise InputError(f"{workers} workers is invalid: use 1 or more")
    plans = plan_files(
        [Path(path) for path in inputs],
        output_dir,
        text_column,
        id_column,
        encoding,
        separator,
        part_bytes,
    )

    summary = RunSummary(model_id=model.model_id, model_path=str(model.path))
    with connect(scheduler, workers) as client:
        settings = Settings(
            model_path=model_path,
            model_checksum=model.checksum,
            batch_size=batch_size,
            threshold=threshold,
            encoding=encoding,
            separator=separator,
            chunk_bytes=chunk_bytes,
            threads=threads,
            task_slots_by_host=task_slots_by_host(client),
        )
        logger.info(
            "model %s (sha256 %s); %d inputs in %d parts on %d workers",
            model.model_id,
            model.checksum,
            len(plans),
            sum(len(plan.parts) for plan in plans),
            len(client.scheduler_info()["workers"]),
        )
        summary.files = run_plans(client, plans, settings)

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


def plan_files(
    paths: list[Path],
    output_dir: str | Path | None,
    text_column: str | None,
    id_column: str | None,
    encoding: str,
    separator: str,
    part_bytes: int,
) -> list[FilePlan]:
    """Check each input, choose its columns and destination, and split it into parts."""
    if output_dir is not None:
        output_dir = Path(output_dir)
        if output_dir.exists() and not output_dir.is_dir():
            raise InputError(f"output {output_dir} is a file: the dask engine takes a folder")
        output_dir.mkdir(parents=True, exist_ok=True)
    plans, destinations = [], {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"input {path} not found or not a file: check the path")
        destination = default_output(path)
        if output_dir is not None:
            destination = output_dir / destination.name
        if destination in destinations:
            raise InputError(
                f"inputs {destinations[destination]} and {path} would both be written to "
                f"{destination}: rename one of them"
            )
        destinations[destination] = path
        columns = reader.choose_columns(
            path, reader.read_header(path, encoding, separator), text_column, id_column
        )
        plans.append(
            FilePlan(
                path, destination, columns, split(path, columns, encoding, separator, part_bytes)
            )
        )
    return plans


def split(
    path: Path, columns: reader.Columns, encoding: str, separator: str, part_bytes: int
) -> list[Part]:
    size = path.stat().st_size
    if size <= part_bytes or columns.id is None:
        return [Part(0)]
    if not csv_split.is_ascii_compatible(encoding, separator):
        logger.info("%s: not split, because %s is not ASCII-compatible", path, encoding)
        return [Part(0)]
    offsets = csv_split.record_boundaries(path, part_bytes) + [size]
    return [Part(index, start, end) for index, (start, end) in enumerate(pairwise(offsets))]


@contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """Yield a client of the scheduler at `scheduler`, else of a new local cluster."""
    if scheduler is None:
        count = workers or available_cores()
        logger.info("starting a local Dask cluster of %d worker processes", count)
        with (
            LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if workers is not None:
        raise InputError("--workers sizes a local cluster: leave it out with --scheduler")
    try:
        # The timeout is Dask's distributed.comm.timeouts.connect setting, 30 s by default.
        client = Client(scheduler)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"Dask scheduler {scheduler} could not be reached ({error}): "
            "check the address and that the scheduler is running"
        ) from error
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError as error:
            raise ClusterError(
                f"Dask scheduler {scheduler} has no workers after {WORKER_WAIT_SECONDS} s: "
                "start dask workers connected to it"
            ) from error
        yield client


def task_slots_by_host(client: Client) -> dict[str, int]:
    """Return the worker threads on each host, so workers can share its cores."""
    slots: dict[str, int] = {}
    for worker in client.scheduler_info()["workers"].values():
        slots[worker["host"]] = slots.get(worker["host"], 0) + worker["nthreads"]
    return slots


def run_plans(client: Client, plans: list[FilePlan], settings: Settings) -> list[FileSummary]:
    """Submit one task per part and one join per file, and wait for the joins."""
    run_id = uuid.uuid4().hex[:8]
    joins = []
    for number, plan in enumerate(plans):
        plan.parts_folder.mkdir(exist_ok=True)
        parts = [
            client.submit(
                score_part, plan, part, settings, key=f"score-part-{run_id}-{number}-{part.index}"
            )
            for part in plan.parts
        ]
        joins.append(client.submit(join_parts, plan, parts, key=f"join-parts-{run_id}-{number}"))
    try:
        return client.gather(joins)
    except KilledWorker as error:
        raise ClusterError(
            f"a task was running on every worker that died ({error}): check the workers' logs "
            "for running out of memory"
        ) from error
    finally:
        client.cancel(joins)
        for plan in plans:
            shutil.rmtree(plan.parts_folder, ignore_errors=True)


def worker_threads(settings: Settings) -> int:
    """Return the onnxruntime threads for a model in this worker process."""
    if settings.threads:
        return settings.threads
    worker = get_worker()
    host = get_address_host(worker.address)
    # NOTE: a worker that joined after the run started counts only its own threads.
    slots = settings.task_slots_by_host.get(host, worker.state.nthreads)
    return max(1, available_cores() // slots)


def output_schema(columns: reader.Columns) -> pa.Schema:
    return pa.schema(
        [
            (columns.id or reader.ROW_NUMBER_COLUMN, pa.string() if columns.id else pa.int64()),
            ("score", pa.float32()),
            ("label", pa.string()),
        ]
    )


def score_part(plan: FilePlan, part: Part, settings: Settings) -> dict:
    """Score one part into its part file and return its counts; runs on a worker."""
    started = time.monotonic()
    model = cached_model(
        settings.model_path, settings.model_checksum, worker_threads(settings), settings.batch_size
    )
    if part.end is None:
        batches = reader.read_chunks(
            plan.input, plan.columns, settings.encoding, settings.separator, settings.chunk_bytes
        )
    else:
        batches = csv_split.read_range(
            plan.input,
            plan.columns,
            part.start,
            part.end,
            settings.encoding,
            settings.separator,
            settings.chunk_bytes,
        )

    # A rerun after the join removed the folder needs it again.
    plan.parts_folder.mkdir(exist_ok=True)
    schema = output_schema(plan.columns)
    counts = {"rows": 0, "positive": 0}

    writer = AtomicCsvWriter(plan.part_path(part.index), schema)
    try:
        for batch in batches:
            scores = model.score_texts(batch.column(plan.columns.text))
            positive = scores >= settings.threshold
            if plan.columns.id:
                ids = batch.column(plan.columns.id)
            else:
                first = counts["rows"]
                ids = pa.array(np.arange(first, first + len(scores)), pa.int64())
            labels = pc.if_else(pa.array(positive), POSITIVE, NEGATIVE)
            writer.write(pa.table([ids, pa.array(scores), labels], schema=schema))
            counts["rows"] += len(scores)
            counts["positive"] += int(positive.sum())
        writer.commit()
    except BaseException:
        writer.discard()
        raise

    counts["seconds"] = time.monotonic() - started
    return counts


def join_parts(plan: FilePlan, part_counts: list[dict]) -> FileSummary:
    """Concatenate the part files into the destination and remove them; runs on a worker.

    An earlier attempt of this task may have renamed the joined file into place and removed
    some parts before its worker died, so missing parts with the destination present mean
    the work is done.
    """
    paths = [plan.part_path(part.index) for part in plan.parts]
    if all(path.exists() for path in paths):
        temporary = plan.parts_folder / f".joined.{uuid.uuid4().hex}.tmp"
        with temporary.open("wb") as joined:
            for index, path in enumerate(paths):
                with path.open("rb") as part_file:
                    if index > 0:
                        part_file.readline()  # The header, written once by part 0.
                    shutil.copyfileobj(part_file, joined)
            joined.flush()
            os.fsync(joined.fileno())
        os.replace(temporary, plan.destination)
    elif not plan.destination.exists():
        raise ClusterError(
            f"parts of {plan.input} in {plan.parts_folder} are missing: run the job again"
        )
    shutil.rmtree(plan.parts_folder, ignore_errors=True)
    logger.info("%s: %d parts -> %s", plan.input, len(paths), plan.destination)
    return FileSummary(
        input=str(plan.input),
        output=str(plan.destination),
        rows=sum(counts["rows"] for counts in part_counts),
        positive=sum(counts["positive"] for counts in part_counts),
        seconds=round(sum(counts["seconds"] for counts in part_counts), 3),
    )
