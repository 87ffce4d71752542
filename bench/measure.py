"""Run a command as a child process and measure its wall time and peak resident memory."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


@dataclass
class Measurement:
    """Wall time and CPU time (user + system) in seconds, peak resident memory in MB."""

    seconds: float
    peak_mb: float
    cpu_seconds: float


class CommandFailed(RuntimeError):
    """A benchmarked command exited with an error; the message has its output."""


def run_measured(command: list[str], environment: dict[str, str] | None = None) -> Measurement:
    """Run `command`, wait for it and return its wall time, CPU time and peak memory.

    A child forked from this process starts with this process's pages mapped, and Linux keeps
    that size in the child's peak even after exec. So the command runs under /usr/bin/time,
    a small process, which reports the peak of its own child. Without /usr/bin/time the peak
    comes from `os.wait4` and includes this process's size at the fork.
    """
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "time.txt"
        if GNU_TIME.exists():
            command = [str(GNU_TIME), "-f", "%M %U %S", "-o", str(report), *command]
        # Output goes to a file: a full pipe would block the child while this waits for it.
        with (Path(folder) / "stderr.txt").open("w+b") as errors:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, env=environment, stdout=subprocess.DEVNULL, stderr=errors
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                errors.seek(0)
                output = errors.read().decode(errors="replace")[-2000:]
                raise CommandFailed(f"{' '.join(command)} exited {code}: {output}")
        if GNU_TIME.exists():
            peak_kb, user, system = report.read_text().split()[-3:]
            return Measurement(seconds, int(peak_kb) / 1024, float(user) + float(system))
    return Measurement(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
