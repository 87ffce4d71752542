"""The example DAGs of dags/score_reviews.py, run by a real Airflow 3 on SQLite."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPOSITORY, generate_reviews

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("airflow") is None,
    reason="apache-airflow is not installed: pip install '.[airflow]'",
)

DAG_IDS = ("score_reviews", "score_reviews_bash")
GOOD_DAY = "2025-03-01"
BAD_DAY = "2025-03-02"
MISSING_DAY = "2025-03-03"
# Runs that fail get one retry, which an input error must not use.
FAILING_DAYS = (BAD_DAY, MISSING_DAY)


def airflow_environment(home: Path) -> dict[str, str]:
    python_folder = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPOSITORY / "dags"),
        "PYTHONPATH": str(REPOSITORY),
        # The BashOperator runs `python -m score`: the python of this environment.
        "PATH": f"{python_folder}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def write_day(root: Path, day: str, files: dict[str, pd.DataFrame]) -> Path:
    folder = root / day
    folder.mkdir(parents=True)
    for name, frame in files.items():
        frame.to_csv(folder / name, index=False)
    return folder


def write_earlier_outputs(folder: Path) -> None:
    """Write an output and a rejects file of an earlier run, which a rerun must not score."""
    generate_reviews(3, seed=40).to_csv(folder / "old.scored.csv", index=False)
    (folder / "old.scored.rejects.csv").write_text("line,reason,record\n")


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory) -> dict:
    """Run both DAGs on a good day, on a day with a file lacking a review column and on a day
    whose folder is missing."""
    home = tmp_path_factory.mktemp("airflow_home")
    environment = airflow_environment(home)
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    runs, roots = [], {}
    for seed, dag_id in enumerate(DAG_IDS):
        root = tmp_path_factory.mktemp(dag_id)
        roots[dag_id] = root
        good_folder = write_day(
            root,
            GOOD_DAY,
            {"a.csv": generate_reviews(30, seed=10 + seed), "b.csv": generate_reviews(12, seed=20)},
        )
        write_earlier_outputs(good_folder)
        write_day(
            root,
            BAD_DAY,
            {"a.csv": generate_reviews(5, seed=30), "b.csv": pd.DataFrame({"id": [1], "x": ["y"]})},
        )
        for day in (GOOD_DAY, *FAILING_DAYS):
            runs.append(
                {
                    "dag_id": dag_id,
                    "logical_date": f"{day}T00:00:00+00:00",
                    "input_root": str(root),
                    "retries": 1 if day in FAILING_DAYS else 0,
                }
            )

    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "tests" / "airflow_runner.py"), json.dumps(runs)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    by_run = {
        (run["dag_id"], run["logical_date"][:10]): result
        for run, result in zip(runs, results, strict=True)
    }
    return {"results": by_run, "roots": roots, "log": completed.stdout + completed.stderr}


def summary_from_xcom(value) -> dict:
    # The TaskFlow task returns a dict, but the BashOperator pushes its last stdout line, a string.
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_scores_daily_folder(dag_runs, dag_id):
    result = dag_runs["results"][(dag_id, GOOD_DAY)]
    assert result["state"] == "success", dag_runs["log"][-5000:]
    assert result["tasks"] == {"score_daily_folder": "success"}

    folder = dag_runs["roots"][dag_id] / GOOD_DAY
    summary = summary_from_xcom(result["xcom"]["score_daily_folder"])
    assert summary["rows"] == 42
    assert summary["exit_code"] == 0
    assert [Path(file["input"]).name for file in summary["files"]] == ["a.csv", "b.csv"]
    for file in summary["files"]:
        source = pd.read_csv(file["input"], dtype={"id": str})
        scored = pd.read_csv(file["output"], dtype={"id": str})
        assert Path(file["output"]).parent == folder
        assert file["rows"] == len(source)
        assert scored["id"].tolist() == source["id"].tolist()
        assert scored["score"].between(0, 1).all()
        assert file["positive"] == int((scored["label"] == "positive").sum())
    assert sorted(path.name for path in folder.iterdir()) == [
        "a.csv",
        "a.scored.csv",
        "a.scored.rejects.csv",
        "b.csv",
        "b.scored.csv",
        "b.scored.rejects.csv",
        "old.scored.csv",
        "old.scored.rejects.csv",
    ]


def assert_failed_without_retry(result: dict) -> None:
    assert result["state"] == "failed"
    assert result["tasks"] == {"score_daily_folder": "failed"}
    assert result["tries"] == {"score_daily_folder": 1}, "an input error was retried"
    assert "score_daily_folder" not in result["xcom"]


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_fails_on_bad_file(dag_runs, dag_id):
    assert_failed_without_retry(dag_runs["results"][(dag_id, BAD_DAY)])
    folder = dag_runs["roots"][dag_id] / BAD_DAY
    assert not (folder / "b.scored.csv").exists()
    assert not list(folder.glob(".*.tmp"))


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_fails_on_missing_folder(dag_runs, dag_id):
    assert_failed_without_retry(dag_runs["results"][(dag_id, MISSING_DAY)])
    folder = dag_runs["roots"][dag_id] / MISSING_DAY
    assert f"no CSV files to score in {folder}" in dag_runs["log"]
    assert "FileNotFoundError" not in dag_runs["log"]


def import_dag_module(monkeypatch):
    monkeypatch.syspath_prepend(str(REPOSITORY / "dags"))
    return importlib.import_module("score_reviews")


def test_daily_inputs_missing_folder(tmp_path, monkeypatch):
    score_reviews = import_dag_module(monkeypatch)
    from score.errors import InputError

    with pytest.raises(InputError, match="no CSV files to score in .*missing"):
        score_reviews.daily_inputs(tmp_path / "absent")


def test_bash_no_retry_exit_codes(monkeypatch):
    score_reviews = import_dag_module(monkeypatch)
    from score import errors

    expected = (errors.EXIT_INPUT, errors.EXIT_MODEL, errors.EXIT_REJECT_RATE)
    assert score_reviews.NO_RETRY_EXIT_CODES == expected


def test_daily_inputs_skips_scored_files(tmp_path, monkeypatch):
    score_reviews = import_dag_module(monkeypatch)
    names = [
        "a.csv",
        "b.csv.gz",
        "c.csv.zst",
        "a.scored.csv",
        "a.scored.rejects.csv",
        "a.scored.csv.gz",
        "a.scored.parquet",
        "notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_text("id,review\n")
    (tmp_path / "folder.csv").mkdir()

    inputs = score_reviews.daily_inputs(tmp_path)
    assert [path.name for path in inputs] == ["a.csv", "b.csv.gz", "c.csv.zst"]
