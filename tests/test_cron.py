"""The crontab line of the README, run through `sh -c` as cron runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPOSITORY, generate_reviews

pytestmark = pytest.mark.skipif(
    shutil.which("flock") is None, reason="flock (util-linux) is not installed"
)

LOCKED_EXIT_CODE = 75
# Five schedule fields, then the command.
SCHEDULE_LINE = re.compile(r"^(\S+\s+){5}(?P<command>.+)$")


def crontab_from_readme() -> tuple[dict[str, str], str]:
    """Return the variables and the command of the crontab block in README.md."""
    readme = (REPOSITORY / "README.md").read_text()
    block = re.search(r"```crontab\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md has no ```crontab block"
    variables, commands = {}, []
    for line in block.group(1).splitlines():
        assignment = re.fullmatch(r"([A-Z_]+)=(.*)", line)
        if assignment:
            variables[assignment.group(1)] = assignment.group(2)
            continue
        schedule = SCHEDULE_LINE.match(line)
        if schedule:
            commands.append(schedule.group("command"))
    assert len(commands) == 1, commands
    return variables, commands[0]


def run_cron_line(score_dir: Path, **options) -> subprocess.Popen:
    variables, command = crontab_from_readme()
    assert set(variables) == {"SCORE_DIR", "PYTHON"}
    environment = {
        **os.environ,
        "SCORE_DIR": str(score_dir),
        "PYTHON": sys.executable,
        "PYTHONPATH": str(REPOSITORY),
    }
    return subprocess.Popen(["sh", "-c", command], env=environment, **options)


def test_cron_line_scores_file(tmp_path):
    generate_reviews(50, seed=3).to_csv(tmp_path / "reviews.csv", index=False)
    assert run_cron_line(tmp_path).wait(timeout=120) == 0

    scored = pd.read_csv(tmp_path / "reviews.scored.csv", dtype={"id": str})
    source = pd.read_csv(tmp_path / "reviews.csv", dtype={"id": str})
    assert scored["id"].tolist() == source["id"].tolist()
    assert set(scored["label"]) <= {"positive", "negative"}
    assert (tmp_path / "score.log").read_text() == ""


def test_cron_line_logs_input_error(tmp_path):
    pd.DataFrame({"id": [1], "comment": ["no review column"]}).to_csv(
        tmp_path / "reviews.csv", index=False
    )
    assert run_cron_line(tmp_path).wait(timeout=120) == 2

    assert not (tmp_path / "reviews.scored.csv").exists()
    log = (tmp_path / "score.log").read_text()
    assert "no 'review' or 'text' column" in log


def test_cron_line_skips_while_locked(tmp_path):
    # Large enough that the first run still holds the lock when the second one starts.
    generate_reviews(3000, seed=4).to_csv(tmp_path / "reviews.csv", index=False)
    first = run_cron_line(tmp_path)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".reviews.scored.csv.*.tmp")):
        assert first.poll() is None, "the first run ended before it wrote its temporary file"
        assert time.monotonic() < deadline, "the first run wrote no temporary file in 60 s"
        time.sleep(0.01)
    files_before = sorted(path.name for path in tmp_path.iterdir())

    second = run_cron_line(tmp_path)
    assert second.wait(timeout=30) == LOCKED_EXIT_CODE
    files_after = sorted(path.name for path in tmp_path.iterdir())
    assert first.poll() is None, "the first run ended before the second one was checked"
    assert files_after == files_before
    assert not (tmp_path / "reviews.scored.csv").exists()

    assert first.wait(timeout=300) == 0
    scored = pd.read_csv(tmp_path / "reviews.scored.csv")
    assert len(scored) == 3000
    assert (tmp_path / "score.log").read_text() == ""
