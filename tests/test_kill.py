"""A scorer killed with SIGKILL leaves no output, and a rerun writes it completely."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPOSITORY, generate_reviews, run_score, temporary_files

ROWS = 20_000
CHUNK_SIZE = 200


def _signal_after_first_chunk(folder, signum: int, *extra: str) -> int:
    """Score folder/in.csv, send `signum` once a chunk is written, and return the exit code."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "score", "in.csv",
            "--chunk-size", str(CHUNK_SIZE), "--quiet", *extra,
        ],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        _wait_for_first_chunk(process, folder)
    finally:
        process.send_signal(signum)
        _, stderr = process.communicate()
    assert "Traceback" not in stderr
    return process.returncode


def _wait_for_first_chunk(process: subprocess.Popen, folder, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the scorer ended before it was killed"
        temporaries = [folder / name for name in temporary_files(folder)]
        if any(path.stat().st_size > 0 for path in temporaries if path.exists()):
            return
        time.sleep(0.01)
    raise AssertionError(f"no temporary output appeared in {timeout} s")


def test_kill_after_first_chunk(tmp_path):
    generate_reviews(ROWS, seed=5).to_csv(tmp_path / "in.csv", index=False)
    output = tmp_path / "in.scored.csv"
    assert _signal_after_first_chunk(tmp_path, signal.SIGKILL) == -signal.SIGKILL
    assert not output.exists()
    assert len(temporary_files(tmp_path)) >= 1

    result = run_score("in.csv", "--chunk-size", "5000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "left by a run that was killed" in result.stderr
    lines = output.read_text().splitlines()
    assert len(lines) == ROWS + 1
    assert lines[-1].startswith(f"g5-{ROWS - 1:05d},")
    assert temporary_files(tmp_path) == []


def test_sigterm_removes_temporary(tmp_path):
    generate_reviews(ROWS // 4, seed=6).to_csv(tmp_path / "in.csv", index=False)
    assert _signal_after_first_chunk(tmp_path, signal.SIGTERM) == 128 + signal.SIGTERM
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]


def test_sigterm_writes_summary(tmp_path):
    generate_reviews(ROWS // 4, seed=6).to_csv(tmp_path / "in.csv", index=False)
    code = _signal_after_first_chunk(tmp_path, signal.SIGTERM, "--summary", "summary.json")
    assert code == 128 + signal.SIGTERM
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 128 + signal.SIGTERM
    assert summary["outputs"] == []


def test_interrupt_exits_130_with_summary(tmp_path):
    generate_reviews(ROWS // 4, seed=6).to_csv(tmp_path / "in.csv", index=False)
    code = _signal_after_first_chunk(tmp_path, signal.SIGINT, "--summary", "summary.json")
    assert code == 130
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 130
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv", "summary.json"]
