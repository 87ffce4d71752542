"""Bad inputs, models and outputs: exit code, one error line, and nothing left behind."""

from __future__ import annotations

import gzip
import os
import re
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY, error_lines, generate_reviews, run_score, temporary_files

GOOD = "id,review\n1,a fine film\n2,dull and long\n"
NUMBERED = "id,review\n" + "".join(f"{number},review number {number}\n" for number in range(5000))


@dataclass
class Case:
    """Files to create (name to bytes), arguments, and the expected exit code and message."""

    files: dict[str, bytes]
    arguments: list[str]
    exit_code: int
    message: str


def _foreign_model() -> bytes:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["token_ids"], ["scores"])],
        "identity",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT32, [None, None])],
        [helper.make_tensor_value_info("scores", TensorProto.INT32, [None, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


CASES = {
    "missing input": Case({}, ["missing.csv"], 2, r"input missing\.csv not found: check the path"),
    "folder without csv": Case(
        {"folder/notes.txt": b"x"},
        ["folder"],
        2,
        r"folder folder has no \*\.csv, \*\.csv\.gz or \*\.csv\.zst files",
    ),
    "gzip named csv": Case(
        {"in.csv": gzip.compress(GOOD.encode())}, ["in.csv"], 2, r"in\.csv is a gzip file"
    ),
    "truncated gzip": Case(
        {"in.csv.gz": gzip.compress(NUMBERED.encode())[:2000]},
        ["in.csv.gz"],
        2,
        r"reading in\.csv\.gz failed \(Truncated compressed stream\): check that the file is",
    ),
    "binary file": Case(
        {"in.csv": b"\x00\x01\x02\x03 binary\n\x00\x00"}, ["in.csv"], 2, r"binary file"
    ),
    "empty file": Case({"in.csv": b""}, ["in.csv"], 2, r"in\.csv is empty"),
    "missing text column": Case(
        {"in.csv": b"id,body\n1,fine\n"},
        ["in.csv"],
        2,
        r"in\.csv has no 'review' or 'text' column \(found: 'id', 'body'\): pass --text-column",
    ),
    "missing chosen column": Case(
        {"in.csv": GOOD.encode()},
        ["in.csv", "--text-column", "body"],
        2,
        r"has no column 'body' \(found: 'id', 'review'\)",
    ),
    "undecodable byte": Case(
        {"in.csv": b"id,review\n1,fine\n2,caf\xe9 ok\n"},
        ["in.csv"],
        2,
        r"in\.csv line 3: byte 0xe9 is not valid utf-8: pass --encoding",
    ),
    "unknown encoding": Case(
        {"in.csv": GOOD.encode()}, ["in.csv", "--encoding", "klingon"], 2, r"encoding 'klingon'"
    ),
    "model not found": Case(
        {"in.csv": GOOD.encode()},
        ["in.csv", "--model", "none.onnx"],
        3,
        r"model none\.onnx not found",
    ),
    "corrupt model": Case(
        {"in.csv": GOOD.encode(), "bad.onnx": b"not a model at all"},
        ["in.csv", "--model", "bad.onnx"],
        3,
        r"model bad\.onnx could not be loaded by onnxruntime",
    ),
    "foreign model": Case(
        {"in.csv": GOOD.encode(), "foreign.onnx": None},
        ["in.csv", "--model", "foreign.onnx"],
        3,
        r"model metadata is missing",
    ),
    "output folder missing": Case(
        {"in.csv": GOOD.encode()},
        ["in.csv", "-o", "nowhere/out.csv"],
        2,
        r"output folder nowhere not found",
    ),
    "output is input": Case(
        {"in.csv": GOOD.encode()}, ["in.csv", "-o", "in.csv"], 2, r"-o in\.csv is an input file"
    ),
    "output extension": Case(
        {"in.csv": GOOD.encode()}, ["in.csv", "-o", "out.xlsx"], 2, r"unsupported extension"
    ),
    "several inputs to file": Case(
        {"a.csv": GOOD.encode(), "b.csv": GOOD.encode()},
        ["a.csv", "b.csv", "-o", "out.csv"],
        2,
        r"-o out\.csv must be an existing folder when several inputs are given",
    ),
    "kept column clashes": Case(
        {"in.csv": b"id,review,score\n1,fine,5\n"},
        ["in.csv", "--keep-columns", "score"],
        2,
        r"column 'score' would appear twice in the output",
    ),
    "pattern matches nothing": Case({}, ["*.csv"], 2, r"pattern \*\.csv matched no files"),
    "invalid chunk size": Case(
        {"in.csv": GOOD.encode()}, ["in.csv", "--chunk-size", "0"], 2, r"chunk size 0 is invalid"
    ),
}


def _create(folder: Path, files: dict[str, bytes | None]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_foreign_model() if content is None else content)


def _tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_cli_bad_input(case, tmp_path):
    _create(tmp_path, case.files)
    before = _tree(tmp_path)
    result = run_score(*case.arguments, "--quiet", cwd=tmp_path)
    assert result.returncode == case.exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert error_lines(result.stderr) == lines
    assert re.search(case.message, lines[0]), lines[0]
    assert _tree(tmp_path) == before
    assert temporary_files(tmp_path) == []


def test_cli_reject_rate_keeps_rejects_only(tmp_path):
    (tmp_path / "in.csv").write_text("id,review\n1,fine\n2,too,many,fields\n3,good\n")
    summary = tmp_path / "summary.json"
    result = run_score("in.csv", "--quiet", "--summary", str(summary), cwd=tmp_path)
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "1 of 3 records rejected (33.3%), more than --max-reject-rate 0.01" in lines[0]
    assert not (tmp_path / "in.scored.csv").exists()
    rejects = (tmp_path / "in.scored.rejects.csv").read_text()
    assert rejects == 'line,reason,record\n3,"expected 2 fields, found 4","2,too,many,fields"\n'
    assert temporary_files(tmp_path) == []
    assert '"exit_code": 4' in summary.read_text()


def test_cli_usage_error_exits_2(tmp_path):
    result = run_score("in.csv", "--no-such-option", cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-option" in result.stderr


def test_cli_debug_shows_traceback(tmp_path):
    result = run_score("missing.csv", "--debug", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes files whatever their mode")
def test_cli_unreadable_and_unwritable(tmp_path):
    (tmp_path / "in.csv").write_text(GOOD)
    (tmp_path / "in.csv").chmod(0)
    result = run_score("in.csv", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "input in.csv is not readable" in result.stderr
    (tmp_path / "in.csv").chmod(0o644)
    (tmp_path / "locked").mkdir(mode=0o555)
    result = run_score("in.csv", "-o", "locked/out.csv", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "output folder locked is not writable" in result.stderr


def _limit_file_size() -> None:
    # Writes past the limit fail with EFBIG, as on a full disk, once SIGXFSZ is ignored.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.mark.parametrize("output", ["out.csv", "out.csv.gz", "out.parquet", "out.jsonl"])
def test_cli_write_failure_leaves_nothing(output, tmp_path):
    generate_reviews(3000, seed=8).to_csv(tmp_path / "in.csv", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "score", "in.csv", "-o", output, "--chunk-size", "500", "--quiet"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"writing {output} failed (File too large): free disk space" in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]
