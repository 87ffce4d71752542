"""Edge cases found by trying the command line as a new user would."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from score import score_files
from tests.conftest import REPOSITORY, generate_reviews, run_module, temporary_files


def score(folder, *arguments):
    return run_module("score", *arguments, check=False, cwd=folder)


def test_summary_equal_to_input_rejected(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,great\n", encoding="utf-8")
    before = source.read_bytes()
    result = score(tmp_path, "in.csv", "-o", "-", "--summary", "in.csv")
    assert result.returncode == 2
    assert "--summary in.csv is an input file" in result.stderr
    assert source.read_bytes() == before


def test_summary_equal_to_input_of_failed_run(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,great\n", encoding="utf-8")
    before = source.read_bytes()
    result = score(tmp_path, "in.csv", "missing.csv", "-o", ".", "--summary", "in.csv")
    assert result.returncode == 2
    assert source.read_bytes() == before


def test_summary_matched_by_glob_rejected(tmp_path):
    (tmp_path / "a.csv").write_text("review\ngreat\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("review\nawful\n", encoding="utf-8")
    before = (tmp_path / "b.csv").read_bytes()
    result = score(tmp_path, "*.csv", "-o", ".", "--summary", "b.csv")
    assert result.returncode == 2
    assert (tmp_path / "b.csv").read_bytes() == before


def test_rejects_folder_missing_names_option(tmp_path):
    (tmp_path / "in.csv").write_text("review\ngreat\n", encoding="utf-8")
    result = score(tmp_path, "in.csv", "--rejects", "absent/rejects.csv")
    assert result.returncode == 2
    assert "choose another --rejects" in result.stderr


@pytest.mark.parametrize("threads", ["0", "-1"])
def test_threads_below_one_usage_error(tmp_path, threads):
    (tmp_path / "in.csv").write_text("review\ngreat\n", encoding="utf-8")
    result = score(tmp_path, "in.csv", "--threads", threads)
    assert result.returncode == 2
    assert "use 1 or more" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,review,review\n1,a,b\n", "column 'review' more than once"),
        (b"id,review\r1,great\r2,awful\r", "carriage return alone"),
        ("id,review\n1,great\n".encode("utf-16"), "UTF-16 text, which the scorer does not read"),
        (b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe\x03\x00>\x00", "is a binary file"),
    ],
)
def test_unusual_files_named_errors(tmp_path, content, message):
    (tmp_path / "in.csv").write_bytes(content)
    result = score(tmp_path, "in.csv")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]


def test_closed_pipe_exits_cleanly(tmp_path):
    generate_reviews(20_000, seed=9).to_csv(tmp_path / "in.csv", index=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "score", "in.csv", "-o", "-", "--chunk-size", "100"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().startswith(b"id,")
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait()
    assert process.returncode == 0
    assert "closed it before the end" in stderr
    assert "Traceback" not in stderr
    assert temporary_files(tmp_path) == []


def test_api_accepts_strings(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review,extra\n1,great,x\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    summary = score_files(str(source), str(output), keep_columns="extra")
    assert summary.records == 1
    assert pd.read_csv(output, dtype=str).columns.tolist() == [
        "id",
        "extra",
        "score",
        "label",
        "status",
    ]
