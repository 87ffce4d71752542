"""The Dask engine on a real LocalCluster of 2 worker processes, against `score_files`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from score import RejectRateExceeded, score_files
from tests.conftest import REPOSITORY, generate_reviews, run_module

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed: pip install '.[dask]'"
)

from score.dask_engine import score_files_dask  # noqa: E402
from score.model_cache import loaded_model_count  # noqa: E402

PART_BYTES = 6000
MAX_REJECT_RATE = 0.05
SUMMARY_COUNTS = ("records", "statuses", "rejected", "positive", "score_deciles")


def start_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


@pytest.fixture(scope="module")
def cluster():
    with start_cluster() as local_cluster:
        yield local_cluster


def review_file_text(rows: int, seed: int, ids: bool = True, bad_every: int = 100) -> str:
    """Return CSV text with quoted newlines and quotes, empty reviews, blank lines and, every
    `bad_every` records, a record with too many fields."""
    frame = generate_reviews(rows, seed=seed)
    frame["review"] = frame["review"].str.replace(" the ", ' "the"\nfilm ', n=1, regex=False)
    frame.loc[frame.index % 37 == 5, "review"] = " "
    if not ids:
        frame = frame.drop(columns=["id"])
    lines = frame.to_csv(index=False, lineterminator="\n").splitlines(keepends=True)
    text = [lines[0]]
    for number, line in enumerate(lines[1:], start=1):
        text.append(line)
        if number % bad_every == 0:
            text.append("too,many,fields,in,this,record\n")
        if number % 70 == 0:
            text.append("\n")
    return "".join(text)


def write_inputs(folder: Path, files: int, rows: int) -> list[Path]:
    """Write `files` CSV files with ids, one without, and one with a stray quote."""
    folder.mkdir()
    paths = []
    for number in range(files):
        paths.append(folder / f"reviews{number}.csv")
        paths[-1].write_text(review_file_text(rows, seed=100 + number))
    paths.append(folder / "no_ids.csv")
    paths[-1].write_text(review_file_text(rows, seed=99, ids=False))
    # A quote inside an unquoted field is read as text, but the file cannot be split.
    paths.append(folder / "stray_quote.csv")
    paths[-1].write_text(review_file_text(rows, seed=98) + 'x,5" tv,1\n')
    return paths


def read_output(path: Path, output_format: str) -> pd.DataFrame:
    """Read an output with every value as text and an empty string for a missing one."""
    if output_format == "parquet":
        frame = pd.read_parquet(path)
        return frame.astype(object).where(frame.notna(), "").astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def single_process(paths: list[Path], folder: Path, **options):
    folder.mkdir(exist_ok=True)
    options.setdefault("max_reject_rate", MAX_REJECT_RATE)
    return score_files(paths, folder, **options)


def assert_same_outputs(expected: Path, actual: Path, output_format: str) -> None:
    names = sorted(path.name for path in expected.iterdir())
    assert sorted(path.name for path in actual.iterdir()) == names
    for name in names:
        if ".rejects." in name:
            assert (actual / name).read_bytes() == (expected / name).read_bytes(), name
            continue
        want = read_output(expected / name, output_format)
        got = read_output(actual / name, output_format)
        assert got.columns.tolist() == want.columns.tolist(), name
        for column in want.columns.drop("score"):
            assert got[column].tolist() == want[column].tolist(), (name, column)
        scored = want["score"] != ""
        assert (got["score"] != "").tolist() == scored.tolist(), name
        difference = np.abs(
            got["score"][scored].astype(float).to_numpy()
            - want["score"][scored].astype(float).to_numpy()
        )
        assert difference.max() <= 1e-6, name


def assert_same_counts(expected: dict, actual: dict) -> None:
    for key in SUMMARY_COUNTS:
        assert actual[key] == expected[key], key
    assert len(actual["files"]) == len(expected["files"])
    for want, got in zip(expected["files"], actual["files"], strict=True):
        for key in (*SUMMARY_COUNTS, "blank_lines", "input", "written"):
            assert got[key] == want[key], (want["input"], key)
        for key in ("output", "rejects"):
            assert Path(got[key]).name == Path(want[key]).name, (want["input"], key)


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_dask_matches_single_process(cluster, tmp_path, output_format):
    paths = write_inputs(tmp_path / "inputs", files=2, rows=300)
    expected = single_process(paths, tmp_path / "single", output_format=output_format)
    output_dir = tmp_path / "dask"
    output_dir.mkdir()
    summary = score_files_dask(
        paths,
        output_dir,
        scheduler=cluster.scheduler_address,
        part_bytes=PART_BYTES,
        max_reject_rate=MAX_REJECT_RATE,
        output_format=output_format,
    )

    assert summary.records == expected.records
    assert summary.rejected > 0
    assert summary.statuses["empty"] > 0
    assert_same_counts(expected.to_dict(), summary.to_dict())
    assert_same_outputs(tmp_path / "single", output_dir, output_format)


def test_dask_loads_model_once_per_worker(cluster, tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=1, rows=300)
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    for _ in range(2):
        score_files_dask(
            paths,
            output_dir,
            scheduler=cluster.scheduler_address,
            part_bytes=2000,
            max_reject_rate=MAX_REJECT_RATE,
        )

    with distributed.Client(cluster) as client:
        counts = client.run(loaded_model_count)
    assert len(counts) == 2
    assert max(counts.values()) == 1, counts


def test_dask_reject_rate_of_whole_file(cluster, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    path = folder / "bad.csv"
    path.write_text(review_file_text(300, seed=7, bad_every=20))
    with pytest.raises(RejectRateExceeded):
        single_process([path], tmp_path / "single", max_reject_rate=0.01)
    output_dir = tmp_path / "dask"
    output_dir.mkdir()

    with pytest.raises(RejectRateExceeded, match="15 of 315 records rejected") as raised:
        score_files_dask(
            [path],
            output_dir,
            scheduler=cluster.scheduler_address,
            part_bytes=PART_BYTES,
            max_reject_rate=0.01,
        )
    assert raised.value.summary.rejected == 15
    assert [item.name for item in output_dir.iterdir()] == ["bad.scored.rejects.csv"]
    rejects = output_dir / "bad.scored.rejects.csv"
    assert rejects.read_bytes() == (tmp_path / "single" / rejects.name).read_bytes()


def test_dask_task_error_not_logged(tmp_path, capfd):
    path = tmp_path / "bad.csv"
    path.write_text(review_file_text(100, seed=8, bad_every=10))
    # Started inside the test, so that the workers' stderr is the one capfd reads.
    with start_cluster() as local_cluster, pytest.raises(RejectRateExceeded):
        score_files_dask([path], tmp_path, scheduler=local_cluster.scheduler_address)
    assert "Compute Failed" not in capfd.readouterr().err


def test_dask_removes_stale_parts(cluster, tmp_path):
    path = tmp_path / "a.csv"
    generate_reviews(20, seed=4).to_csv(path, index=False)
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    # The id of a process that has exited and been reaped, so no process has it for now.
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead_pid = finished.pid
    stale = output_dir / f".a.scored.csv.{dead_pid}-0123abcd.parts"
    live_or_other = [
        output_dir / f".a.scored.csv.{os.getpid()}-0123abcd.parts",
        output_dir / f".b.scored.csv.{dead_pid}-0123abcd.parts",
        output_dir / f".a.scored.csv.{dead_pid}-notes.parts",
    ]
    for folder in (stale, *live_or_other):
        folder.mkdir()
        (folder / "part-00000.parquet").write_bytes(b"")

    score_files_dask([path], output_dir, scheduler=cluster.scheduler_address)
    assert not stale.exists()
    for folder in live_or_other:
        assert (folder / "part-00000.parquet").exists(), folder.name


def test_dask_survives_killed_worker(tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=4, rows=600)
    single_process(paths, tmp_path / "single")
    output_dir = tmp_path / "dask"
    output_dir.mkdir()
    errors = []

    def run(address):
        try:
            score_files_dask(
                paths,
                output_dir,
                scheduler=address,
                part_bytes=PART_BYTES,
                max_reject_rate=MAX_REJECT_RATE,
            )
        except Exception as error:  # Reported by the asserts below.
            errors.append(error)

    with start_cluster() as local_cluster, distributed.Client(local_cluster) as client:
        worker_pids = client.run(os.getpid)
        job = threading.Thread(target=run, args=(local_cluster.scheduler_address,))
        job.start()
        deadline = time.monotonic() + 120
        while not list(output_dir.glob(".*.parts/part-*.parquet")):
            assert job.is_alive(), errors
            assert time.monotonic() < deadline, "no part was written in 120 s"
            time.sleep(0.01)
        victim = next(iter(worker_pids.values()))
        os.kill(victim, signal.SIGKILL)
        killed_while_running = job.is_alive()
        job.join(timeout=300)

    assert killed_while_running
    assert not job.is_alive()
    assert errors == []
    assert_same_outputs(tmp_path / "single", output_dir, "csv")


def test_cli_dask_engine(cluster, tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=1, rows=200)
    output_dir = tmp_path / "dask"
    output_dir.mkdir()
    options = ["--max-reject-rate", str(MAX_REJECT_RATE), "--label-column", "sentiment"]
    single = tmp_path / "single"
    single.mkdir()
    run_module(
        "score",
        *options,
        "--summary",
        str(tmp_path / "single.json"),
        *map(str, paths),
        "-o",
        str(single),
    )
    run_module(
        "score",
        "--engine",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--part-bytes",
        str(PART_BYTES),
        *options,
        "--summary",
        str(tmp_path / "dask.json"),
        "--quiet",
        *map(str, paths),
        "-o",
        str(output_dir),
    )

    expected = json.loads((tmp_path / "single.json").read_text())
    actual = json.loads((tmp_path / "dask.json").read_text())
    assert_same_counts(expected, actual)
    assert actual["evaluation"] == expected["evaluation"]
    assert actual["options"]["engine"] == "dask"
    assert_same_outputs(single, output_dir, "csv")


def test_cli_dask_quiet(tmp_path):
    good = tmp_path / "good.csv"
    generate_reviews(20, seed=3).to_csv(good, index=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(review_file_text(100, seed=8, bad_every=10))
    command = ["score", "--engine", "dask", "--workers", "2", "--quiet", "-o", str(tmp_path)]

    result = run_module(*command, str(good))
    assert result.stderr == ""
    result = run_module(*command, str(bad), check=False)
    assert result.returncode == 4
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "records rejected" in result.stderr


def test_cli_dask_logs_warnings(tmp_path):
    path = tmp_path / "good.csv"
    generate_reviews(20, seed=3).to_csv(path, index=False)
    result = run_module("score", "--engine", "dask", "--workers", "2", str(path))
    assert "Nanny" not in result.stderr
    assert "Scheduler at" not in result.stderr
    assert "1 input(s) in 1 task(s)" in result.stderr


def test_cli_dask_rerun_after_kill(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(review_file_text(600, seed=9))
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    command = ["score", "--engine", "dask", "--workers", "1", "--part-bytes", str(PART_BYTES)]
    command += ["--quiet", str(path), "-o", str(output_dir)]
    # A session of its own, so that SIGKILL reaches the worker processes too.
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(output_dir.glob(".*.parts")):
            assert process.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "no parts folder appeared in 60 s"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert list(output_dir.glob(".*.parts"))

    result = run_module(*command)
    assert list(output_dir.glob(".*.parts")) == []
    assert (output_dir / "reviews.scored.csv").exists()
    assert result.returncode == 0


def test_cli_unreachable_scheduler(tmp_path, monkeypatch):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "reviews.csv"
    generate_reviews(5, seed=1).to_csv(path, index=False)
    result = run_module(
        "score",
        "--engine",
        "dask",
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        str(path),
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert "could not be reached" in result.stderr


def test_cli_engine_options_need_dask(tmp_path):
    path = tmp_path / "reviews.csv"
    generate_reviews(5, seed=1).to_csv(path, index=False)
    result = run_module("score", "--workers", "2", str(path), check=False)
    assert result.returncode == 2
    assert "--workers apply to --engine dask only" in result.stderr
