"""Exceptions of the scorer, each with the exit code the command line returns for it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_MODEL = 3
EXIT_REJECT_RATE = 4
EXIT_INTERRUPTED = 130


class ScoringError(Exception):
    """A failure the user can fix; the message names the file, row or value and the fix.

    `summary` is the `RunSummary` of the failed run when `score_files` raised the error, and
    `file_summary` the `FileSummary` of the failed file when `score_file` raised it.
    """

    exit_code = EXIT_UNEXPECTED
    summary = None
    file_summary = None


class InputError(ScoringError):
    """Bad usage, an input file that cannot be scored, or an output that cannot be written."""

    exit_code = EXIT_INPUT


class OutputClosed(InputError):
    """Standard output was closed by its reader, as `head` does, before every row was written.

    The command line logs a warning and exits with 0: the reader chose to stop.
    """

    exit_code = EXIT_OK


class ModelError(ScoringError):
    """A model file that is missing, corrupt or lacks the metadata scoring needs."""

    exit_code = EXIT_MODEL


class RejectRateExceeded(ScoringError):
    """More records were rejected as malformed than `max_reject_rate` allows."""

    exit_code = EXIT_REJECT_RATE


EXIT_CLUSTER = 5


class ClusterError(ScoringError):
    """A Dask cluster that cannot be reached or that lost the tasks of a run."""

    exit_code = EXIT_CLUSTER
