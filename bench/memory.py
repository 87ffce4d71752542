"""Measure peak memory and throughput of `python -m score` on generated files of growing size.

Usage: python bench/memory.py [ROWS ...] (default: 100000 1000000). Each file is written to a
temporary folder, scored in a child process, and the child's peak resident set size is read
from `os.wait4`, so the numbers are those of one run each.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.conftest import generate_reviews  # noqa: E402

DISTINCT_REVIEWS = 100_000


def write_reviews(path: Path, rows: int) -> None:
    """Write `rows` generated reviews, repeating a set of distinct ones under new ids."""
    reviews = generate_reviews(min(rows, DISTINCT_REVIEWS), seed=21)["review"].tolist()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "review"])
        for index in range(rows):
            writer.writerow([f"{index:08d}", reviews[index % len(reviews)]])


def measure(path: Path) -> tuple[float, float]:
    """Score `path` and return the child's peak resident set in MiB and the seconds taken."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "score", str(path), "--quiet"],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"scoring {path} failed with status {status}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux.


def main() -> None:
    sizes = [int(value) for value in sys.argv[1:]] or [100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            path = Path(folder) / f"reviews{rows}.csv"
            write_reviews(path, rows)
            peak, seconds = measure(path)
            print(
                f"{rows:>10,} rows: peak RSS {peak:7.1f} MiB, {seconds:7.1f} s, "
                f"{rows / seconds:7.0f} rows/s"
            )


if __name__ == "__main__":
    main()
