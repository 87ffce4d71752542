"""Counts and score statistics of a run, per file and in total, as written by `--summary`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from score.evaluation import LabelledScores
from score.writer import AtomicFile

STATUS_OK = "ok"
STATUS_EMPTY = "empty"
STATUSES = (STATUS_OK, STATUS_EMPTY)
# Deciles come from a histogram of this many equal bins over [0, 1], so they are accurate to
# 1 / HISTOGRAM_BINS and memory stays constant whatever the number of rows.
HISTOGRAM_BINS = 10_000


class ScoreHistogram:
    """Counts of scores in equal bins over [0, 1]."""

    def __init__(self) -> None:
        self.counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)

    def add(self, scores: np.ndarray) -> None:
        bins = np.clip((scores * HISTOGRAM_BINS).astype(np.int64), 0, HISTOGRAM_BINS - 1)
        self.counts += np.bincount(bins, minlength=HISTOGRAM_BINS)

    def merge(self, other: ScoreHistogram) -> None:
        self.counts += other.counts

    def deciles(self) -> list[float]:
        """Return the 10th to 90th percentiles of the scores, or [] when there are none."""
        total = int(self.counts.sum())
        if total == 0:
            return []
        cumulative = np.cumsum(self.counts)
        ranks = np.ceil(np.arange(1, 10) / 10 * total)
        bins = np.searchsorted(cumulative, ranks)
        return [round(float(index + 1) / HISTOGRAM_BINS, 6) for index in bins]


@dataclass
class FileSummary:
    """Counts of one input file: `records` = sum of `statuses` + `rejected`, always."""

    input: str
    output: str
    rejects: str | None = None
    records: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    rejected: int = 0
    blank_lines: int = 0
    positive: int = 0
    seconds: float = 0.0
    written: bool = False
    threshold: float = 0.5
    histogram: ScoreHistogram = field(default_factory=ScoreHistogram, repr=False)
    labelled: LabelledScores = field(default_factory=LabelledScores, repr=False)

    def add(self, part: FileSummary) -> None:
        """Add the counts of a part of this file, scored on its own."""
        self.records += part.records
        for status, count in part.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.rejected += part.rejected
        self.blank_lines += part.blank_lines
        self.positive += part.positive
        self.seconds += part.seconds
        self.histogram.merge(part.histogram)
        self.labelled.merge(part.labelled)

    @property
    def rows(self) -> int:
        """Rows of the output: one per record that was not rejected."""
        return sum(self.statuses.values())

    def to_dict(self) -> dict:
        values = {
            key: value
            for key, value in asdict(self).items()
            if key not in ("histogram", "labelled", "threshold")
        }
        values.update(_statistics(self.rows, self.statuses[STATUS_OK], self.positive))
        values["score_deciles"] = self.histogram.deciles()
        values["rows_per_second"] = round(self.records / max(self.seconds, 1e-9), 1)
        if self.labelled:
            values["evaluation"] = self.labelled.metrics(self.threshold)
        return values


def _statistics(rows: int, scored: int, positive: int) -> dict:
    return {
        "rows": rows,
        "scored": scored,
        "positive_share": round(positive / scored, 6) if scored else None,
    }


@dataclass
class RunSummary:
    """Summary of a run, returned by `score_files` and written as JSON by `--summary`."""

    model_id: str | None = None
    model_path: str | None = None
    model_sha256: str | None = None
    options: dict = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    files: list[FileSummary] = field(default_factory=list)
    started_at: str = ""
    seconds: float = 0.0
    exit_code: int = 0
    error: str | None = None

    @property
    def records(self) -> int:
        return sum(file.records for file in self.files)

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def rejected(self) -> int:
        return sum(file.rejected for file in self.files)

    @property
    def positive(self) -> int:
        return sum(file.positive for file in self.files)

    @property
    def statuses(self) -> dict[str, int]:
        totals = dict.fromkeys(STATUSES, 0)
        for file in self.files:
            for status, count in file.statuses.items():
                totals[status] = totals.get(status, 0) + count
        return totals

    @property
    def outputs(self) -> list[str]:
        """Outputs written completely; a failed file's output is not among them."""
        return [file.output for file in self.files if file.written]

    def to_dict(self) -> dict:
        histogram = ScoreHistogram()
        labelled = LabelledScores()
        for file in self.files:
            histogram.merge(file.histogram)
            labelled.merge(file.labelled)
        statuses = self.statuses
        evaluation = labelled.metrics(self.options.get("threshold", 0.5)) if labelled else None
        return {
            "model_id": self.model_id,
            "model_path": self.model_path,
            "model_sha256": self.model_sha256,
            "options": self.options,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "records": self.records,
            **_statistics(self.rows, statuses[STATUS_OK], self.positive),
            "statuses": statuses,
            "rejected": self.rejected,
            "positive": self.positive,
            "score_deciles": histogram.deciles(),
            "started_at": self.started_at,
            "seconds": self.seconds,
            "rows_per_second": round(self.records / max(self.seconds, 1e-9), 1),
            "exit_code": self.exit_code,
            "error": self.error,
            "evaluation": evaluation,
            "files": [file.to_dict() for file in self.files],
        }

    def write_json(self, path: str | Path) -> None:
        """Write `to_dict()` as JSON to `path`, atomically, so a reader never sees half of it."""
        target = AtomicFile(Path(path))
        try:
            target.file.write(json.dumps(self.to_dict(), indent=2).encode("utf-8") + b"\n")
            target.commit()
        except BaseException:
            target.discard()
            raise
