"""The Dask engine on a real LocalCluster of 2 worker processes, against `score_files`."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from score import score_files
from tests.conftest import generate_reviews, run_module

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed: pip install '.[dask]'"
)

from score.dask_engine import score_files_dask  # noqa: E402
from score.model_cache import loaded_model_count  # noqa: E402

PART_BYTES = 6000


def start_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with start_cluster() as local_cluster:
        yield local_cluster


def write_inputs(folder, files: int, rows: int) -> list:
    """Write `files` CSV files with ids and one without, with quoted newlines and quotes."""
    folder.mkdir()
    paths = []
    for number in range(files):
        frame = generate_reviews(rows, seed=100 + number)
        frame["review"] = frame["review"].str.replace(" the ", ' "the"\nfilm ', n=1, regex=False)
        paths.append(folder / f"reviews{number}.csv")
        frame.to_csv(paths[-1], index=False)
    no_ids = generate_reviews(rows, seed=99).drop(columns=["id"])
    paths.append(folder / "no_ids.csv")
    no_ids.to_csv(paths[-1], index=False)
    return paths


def assert_same_as_single_process(paths, output_dir, tmp_path) -> None:
    expected_dir = tmp_path / "single"
    expected_dir.mkdir(exist_ok=True)
    for path in paths:
        expected_path = expected_dir / f"{path.stem}.scored.csv"
        score_files([path], expected_path)
        expected = pd.read_csv(expected_path, dtype=str)
        actual = pd.read_csv(output_dir / expected_path.name, dtype=str)
        id_column = expected.columns[0]
        assert actual.columns.tolist() == expected.columns.tolist()
        assert actual[id_column].tolist() == expected[id_column].tolist(), path
        assert actual[id_column].is_unique
        assert actual["label"].tolist() == expected["label"].tolist(), path
        difference = np.abs(actual["score"].astype(float) - expected["score"].astype(float))
        assert difference.max() <= 1e-6, path
    assert sorted(item.name for item in output_dir.iterdir()) == sorted(
        f"{path.stem}.scored.csv" for path in paths
    )


def test_dask_matches_single_process(cluster, tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=3, rows=300)
    output_dir = tmp_path / "out"
    summary = score_files_dask(
        paths, output_dir, scheduler=cluster.scheduler_address, part_bytes=PART_BYTES
    )

    assert summary.rows == 4 * 300
    assert [file.rows for file in summary.files] == [300] * 4
    assert_same_as_single_process(paths, output_dir, tmp_path)


def test_dask_loads_model_once_per_worker(cluster, tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=2, rows=300)
    score_files_dask(paths, tmp_path / "out", scheduler=cluster.scheduler_address, part_bytes=2000)
    score_files_dask(paths, tmp_path / "out", scheduler=cluster.scheduler_address, part_bytes=2000)

    with distributed.Client(cluster) as client:
        counts = client.run(loaded_model_count)
    assert len(counts) == 2
    assert max(counts.values()) == 1, counts


def test_dask_survives_killed_worker(tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=6, rows=600)
    output_dir = tmp_path / "out"
    errors = []

    def run(address):
        try:
            score_files_dask(paths, output_dir, scheduler=address, part_bytes=PART_BYTES)
        except Exception as error:  # Reported by the asserts below.
            errors.append(error)

    with start_cluster() as local_cluster, distributed.Client(local_cluster) as client:
        worker_pids = client.run(os.getpid)
        job = threading.Thread(target=run, args=(local_cluster.scheduler_address,))
        job.start()
        deadline = time.monotonic() + 120
        while not list(output_dir.glob(".*.parts/part-*.csv")):
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
    assert_same_as_single_process(paths, output_dir, tmp_path)


def test_cli_dask_engine(cluster, tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=1, rows=200)
    output_dir = tmp_path / "out"
    summary_path = tmp_path / "summary.json"
    run_module(
        "score",
        "--engine",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--part-bytes",
        str(PART_BYTES),
        "--summary",
        str(summary_path),
        "--quiet",
        *map(str, paths),
        "-o",
        str(output_dir),
    )
    assert '"rows": 400' in summary_path.read_text()
    assert_same_as_single_process(paths, output_dir, tmp_path)


def test_cli_unreachable_scheduler(tmp_path, monkeypatch):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    paths = write_inputs(tmp_path / "inputs", files=1, rows=5)
    result = run_module(
        "score",
        "--engine",
        "dask",
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        str(paths[0]),
        "-o",
        str(tmp_path / "out"),
        check=False,
    )
    assert result.returncode == 5, result.stderr
    assert "could not be reached" in result.stderr


def test_cli_engine_options_need_dask(tmp_path):
    paths = write_inputs(tmp_path / "inputs", files=1, rows=5)
    result = run_module("score", "--workers", "2", str(paths[0]), check=False)
    assert result.returncode == 2
    assert "--workers apply to --engine dask only" in result.stderr
