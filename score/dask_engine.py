"""Score on a Dask cluster: `python -m score --engine dask`, or `score_files_dask` in Python.

The run is planned as in one process (`score_files` with a `DaskEngine`), so inputs, outputs,
rejects files, formats, the summary and the logs are the same. Each job then becomes tasks:

- A plain `.csv` file larger than `part_bytes` is split at record boundaries
  (`score.csv_split`). One task per byte range scores it with `score_file` into a Parquet part
  and a rejects part, numbered as in the whole file, and a join task copies the parts in order
  into the output and rejects files. Parts are scored with no reject limit, and the join applies
  `max_reject_rate` to the whole file.
- Any other file (small, compressed, or with quoting the split cannot vouch for) is one task
  that runs `score_file` on the whole job.

The parts of an output `NAME` go to a hidden folder `.NAME.PID-RUN.parts` beside it, named
for the client's process id and a random run id. A run first removes the folders for its
outputs whose client process is gone, as after `kill -9`.

A task returns a `ScoringError` (a bad input, model or reject rate) as its value instead of
raising it, so that its worker does not log a failed task with a traceback. The client raises
it. Dask's own logs follow the level of this module's logger: WARNING, or ERROR when
the caller logs errors only (`--quiet`), on the client and in the workers of a local cluster.

Every file is written to a temporary file and renamed into place when complete, so a task that
Dask reruns after losing its worker rewrites the same part and leaves no partial or duplicate
rows. Tasks are plain futures, so nothing runs on the client but planning: reading headers and
scanning split files for record boundaries. Each worker process loads the model once
(`score.model_cache`), with onnxruntime threads sized so that the workers on a host share its
cores. Inputs, outputs and a `--model` file must be at the same paths on the client and on every
worker, as on one machine or a shared file system.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, Future, KilledWorker, LocalCluster, get_worker
from distributed.comm import get_address_host

from score import csv_split, sources
from score.api import ScoringOptions, log_file_summary, score_file, score_files
from score.chunks import check_reject_rate
from score.errors import ClusterError, InputError, ScoringError
from score.model import SentimentModel, available_cores, default_model_path
from score.model_cache import cached_model
from score.progress import Progress
from score.reader import CsvRecords
from score.sources import Job
from score.summary import FileSummary, RunSummary
from score.writer import AtomicFile, _process_running, open_writer, write_error

logger = logging.getLogger(__name__)

DEFAULT_PART_BYTES = 64 << 20
WORKER_WAIT_SECONDS = 120


@dataclass(frozen=True)
class WorkerModel:
    """The settings a task needs to load the run's model in its worker, small enough to pickle.

    `path` None is the model shipped in the worker's own installation.
    """

    path: str | None
    checksum: str
    batch_size: int
    threads: int | None
    task_slots_by_host: dict[str, int]


@dataclass
class FilePlan:
    """A job and, when its file is split, the jobs of its parts and their folder."""

    job: Job
    parts: list[Job] = field(default_factory=list)
    parts_folder: Path | None = None


def score_files_dask(
    inputs: list[str | Path],
    output: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    part_bytes: int = DEFAULT_PART_BYTES,
    threads: int | None = None,
    **options,
) -> RunSummary:
    """Score `inputs` on a Dask cluster, with the outputs and summary of `score_files`.

    `scheduler` is the address of a running Dask scheduler. Without it, a local cluster of
    `workers` processes (default: one per available core) with one thread each is started on
    127.0.0.1 and closed at the end. `part_bytes` is the size of the parts that large files are
    split into. `threads` sets onnxruntime's threads per worker process, by default the host's
    cores divided by the task slots of the workers on that host. The other keyword arguments
    are those of `score_files`.

    A file's `seconds` in the summary is the sum of its tasks' times. Files are scored at the
    same time, so when one fails, files after it in input order may have been written too. The
    summary lists them. Raises `InputError`, `ModelError`, `RejectRateExceeded` or
    `ClusterError`.
    """
    engine = DaskEngine(scheduler, workers, part_bytes, threads)
    # The model loaded here only provides its id, checksum and threshold.
    return score_files(inputs, output, threads=1, engine=engine, **options)


@dataclass(frozen=True)
class DaskEngine:
    """The `score_files` engine that scores each job's parts as tasks on a Dask cluster."""

    scheduler: str | None = None
    workers: int | None = None
    part_bytes: int = DEFAULT_PART_BYTES
    threads: int | None = None

    def settings(self) -> dict[str, object]:
        return {
            "engine": "dask",
            "scheduler": self.scheduler,
            "workers": self.workers,
            "part_bytes": self.part_bytes,
            "worker_threads": self.threads,
        }

    def score_jobs(
        self,
        run: RunSummary,
        jobs: list[Job],
        model: SentimentModel,
        options: ScoringOptions,
        progress: Progress,
    ) -> None:
        """Score `jobs` on the cluster and add their summaries to `run`.

        Progress is one log line per finished file, so `progress` is not used.
        """
        if self.part_bytes < 1:
            raise InputError(f"part size {self.part_bytes} bytes is invalid: use 1 or more")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"{self.workers} workers is invalid: use 1 or more")
        run_id = uuid.uuid4().hex[:8]
        plans = [plan_file(job, options, self.part_bytes, run_id) for job in jobs]
        path = None if model.path == default_model_path() else str(model.path.resolve())
        with connect(self.scheduler, self.workers) as client:
            worker_model = WorkerModel(
                path, model.checksum, model.batch_size, self.threads, task_slots_by_host(client)
            )
            logger.info(
                "%d input(s) in %d task(s) on %d Dask worker(s)",
                len(plans),
                sum(len(plan.parts) + 1 for plan in plans),
                len(client.scheduler_info()["workers"]),
            )
            run_plans(client, run, plans, worker_model, options, run_id)


def plan_file(job: Job, options: ScoringOptions, part_bytes: int, run_id: str) -> FilePlan:
    """Split the job's file into part jobs when it is large enough and safe to split."""
    if sources.STANDARD_STREAM in (job.source, job.output):
        raise InputError(
            "the Dask engine reads and writes files, not standard input or output: "
            "pass files, and -o a file or folder"
        )
    output = Path(job.output)
    remove_stale_parts_folders(output)
    path = Path(job.source)
    if path.suffix != ".csv" or path.stat().st_size <= part_bytes:
        return FilePlan(job)
    with sources.open_binary(job.source) as stream:
        records = CsvRecords(stream, job.source, options.encoding, options.sep)
        header, header_lines = records.header, records.lines.count
    ranges = csv_split.split_ranges(
        path, header, header_lines, options.encoding, options.sep, part_bytes
    )
    if len(ranges) < 2:
        return FilePlan(job)

    folder = output.parent / f"{parts_folder_prefix(output)}{os.getpid()}-{run_id}.parts"
    parts = [
        Job(
            job.source,
            str(folder / f"part-{index:05d}.parquet"),
            "parquet",
            str(folder / f"part-{index:05d}.rejects.csv"),
            byte_range,
        )
        for index, byte_range in enumerate(ranges)
    ]
    return FilePlan(job, parts, folder)


def dask_log_level() -> int:
    """Return the level for Dask's logs: WARNING, or ERROR when this module logs errors only."""
    return max(logging.WARNING, logger.getEffectiveLevel())


@contextmanager
def quiet_dask_logs(level: int) -> Iterator[None]:
    """Raise the level of the "distributed" loggers of this process to `level` for the block.

    Dask sets some of them to INFO, and when the root logger is configured, as by the command
    line, their records reach its handler.
    """
    names = ["distributed"] + [
        name for name in logging.root.manager.loggerDict if name.startswith("distributed.")
    ]
    saved = {}
    for name in names:
        dask_logger = logging.getLogger(name)
        if dask_logger.level < level:
            saved[name] = dask_logger.level
            dask_logger.setLevel(level)
    try:
        yield
    finally:
        for name, old_level in saved.items():
            logging.getLogger(name).setLevel(old_level)


def parts_folder_prefix(output: Path) -> str:
    """Return the name prefix of the folders of part files for `output`."""
    return f".{output.name}."


def remove_stale_parts_folders(output: Path) -> None:
    """Delete the folders of part files for `output` left by runs that were killed.

    A folder's name carries the id of the client process that made it, so the folders of a
    process that is still running (a concurrent run to the same output) are left alone.
    """
    # NOTE: the process id is checked on this machine, so a folder made by a client on another
    # machine that shares the output folder is removed unless a process here has its id.
    prefix = parts_folder_prefix(output)
    pattern = re.compile(re.escape(prefix) + r"(\d+)-[0-9a-f]{8}\.parts")
    for candidate in output.parent.glob(f"{glob.escape(prefix)}*.parts"):
        match = pattern.fullmatch(candidate.name)
        if match is None or candidate.is_symlink() or not candidate.is_dir():
            continue
        if _process_running(int(match.group(1))):
            continue
        logger.warning("removing %s, left by a run that was killed", candidate)
        shutil.rmtree(candidate, ignore_errors=True)


@contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """Yield a client of the scheduler at `scheduler`, else of a new local cluster."""
    level = dask_log_level()
    with quiet_dask_logs(level):
        yield from _connect(scheduler, workers, level)


def _connect(scheduler: str | None, workers: int | None, level: int) -> Iterator[Client]:
    if scheduler is None:
        count = workers or available_cores()
        logger.info("starting a local Dask cluster of %d worker processes", count)
        with (
            LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # The scheduler's HTTP server (dashboard, metrics) takes a free loopback port.
                dashboard_address="127.0.0.1:0",
                # The level of the "distributed" log handlers in the worker processes.
                silence_logs=level,
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


def run_plans(
    client: Client,
    run: RunSummary,
    plans: list[FilePlan],
    worker_model: WorkerModel,
    options: ScoringOptions,
    run_id: str,
) -> None:
    """Submit the tasks of every file, then add the file summaries to `run` in input order."""
    part_options = replace(options, max_reject_rate=1.0)
    submitted: list[Future] = []
    results: list[Future] = []
    for number, plan in enumerate(plans):
        if not plan.parts:
            key = f"score-file-{run_id}-{number}"
            results.append(client.submit(score_job, plan.job, worker_model, options, key=key))
            continue
        plan.parts_folder.mkdir()
        parts = [
            client.submit(
                score_job, part, worker_model, part_options, key=f"score-part-{run_id}-{number}-{i}"
            )
            for i, part in enumerate(plan.parts)
        ]
        submitted.extend(parts)
        key = f"join-parts-{run_id}-{number}"
        results.append(
            client.submit(join_parts, plan.job, plan.parts, parts, options.max_reject_rate, key=key)
        )
    submitted.extend(results)
    try:
        collect_in_order(run, plans, results)
    except KilledWorker as error:
        raise ClusterError(
            f"a task was running on every worker that died ({error}): check the workers' logs "
            "for running out of memory"
        ) from error
    finally:
        client.cancel(submitted)
        # NOTE: cancelling does not stop a task that is running, so after a failure on a
        # remote cluster such a task may leave a temporary file, and so the parts folder.
        for plan in plans:
            if plan.parts_folder is not None:
                shutil.rmtree(plan.parts_folder, ignore_errors=True)


def collect_in_order(run: RunSummary, plans: list[FilePlan], results: list[Future]) -> None:
    """Wait for each file in input order, and on a failure also list the files already done."""
    for number, (plan, result) in enumerate(zip(plans, results, strict=True)):
        summary = result.result()
        if isinstance(summary, ScoringError):
            failed = summary.file_summary
            if failed is None or failed.output != plan.job.output:
                # The error of a part: its counts are not the file's.
                job = plan.job
                failed = FileSummary(input=job.source, output=job.output, rejects=job.rejects)
            run.files.append(failed)
            for later in results[number + 1 :]:
                if later.status == "finished" and isinstance(later.result(), FileSummary):
                    run.files.append(later.result())
            raise summary
        log_file_summary(summary)
        run.files.append(summary)


def worker_threads(worker_model: WorkerModel) -> int:
    """Return the onnxruntime threads for a model in this worker process."""
    if worker_model.threads:
        return worker_model.threads
    worker = get_worker()
    host = get_address_host(worker.address)
    # NOTE: a worker that joined after the run started counts only its own threads.
    slots = worker_model.task_slots_by_host.get(host, worker.state.nthreads)
    return max(1, available_cores() // slots)


def score_job(
    job: Job, worker_model: WorkerModel, options: ScoringOptions
) -> FileSummary | ScoringError:
    """Score a whole file or a part with this worker's model; runs on a worker.

    Returns a `ScoringError` instead of raising it, so that the worker does not log it.
    """
    try:
        model = cached_model(
            worker_model.path,
            worker_model.checksum,
            worker_threads(worker_model),
            worker_model.batch_size,
        )
        return score_file(model, job, options)
    except ScoringError as error:
        return error


def join_parts(
    job: Job,
    parts: list[Job],
    part_summaries: list[FileSummary | ScoringError],
    max_reject_rate: float,
) -> FileSummary | ScoringError:
    """Copy the parts, in order, into the job's rejects and output files; runs on a worker.

    As in one process, the rejects file is written first, and the output only when the share
    of rejected records is within `max_reject_rate`. The part files are left to the client,
    which removes their folder, so a rerun of this task finds them again. Returns the first
    error of a part, or its own, instead of raising it, as `score_job` does.
    """
    for part_summary in part_summaries:
        if isinstance(part_summary, ScoringError):
            return part_summary
    started = time.monotonic()
    summary = FileSummary(
        input=job.source,
        output=job.output,
        rejects=job.rejects,
        threshold=part_summaries[0].threshold,
    )
    for part_summary in part_summaries:
        summary.add(part_summary)
    try:
        join_rejects([part.rejects for part in parts], job.rejects)
        check_reject_rate(summary, sources.describe(job.source), max_reject_rate)
        join_outputs([part.output for part in parts], job.output, job.output_format)
    except ScoringError as error:
        error.file_summary = summary
        return error
    summary.written = True
    summary.seconds = round(summary.seconds + time.monotonic() - started, 3)
    return summary


def join_rejects(part_paths: list[str], path: str) -> None:
    """Concatenate rejects CSV files into `path`, keeping the header of the first only."""
    target = AtomicFile(Path(path))
    try:
        for index, part_path in enumerate(part_paths):
            with open(part_path, "rb") as part:
                if index > 0:
                    part.readline()  # The header row, one line without quoted fields.
                shutil.copyfileobj(part, target.file)
        target.commit()
    except OSError as error:
        target.discard()
        raise write_error(path, error) from error
    except BaseException:
        target.discard()
        raise


def join_outputs(part_paths: list[str], path: str, output_format: str) -> None:
    """Write the rows of Parquet parts, in order, to `path` in `output_format`."""
    schema = pq.read_schema(part_paths[0]).remove_metadata()
    writer = open_writer(path, output_format, schema)
    try:
        for part_path in part_paths:
            for batch in pq.ParquetFile(part_path).iter_batches():
                writer.write(pa.Table.from_batches([batch]).cast(schema))
        writer.commit()
    except BaseException:
        writer.discard()
        raise
