"""Classification metrics of scores against known labels, with numpy and pandas only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from score.errors import InputError

POSITIVE_LABELS = {"1", "pos", "positive", "true"}
NEGATIVE_LABELS = {"0", "neg", "negative", "false"}


def parse_labels(
    values: pd.Series | list[str],
    column: str,
    source: str,
    record_numbers: list[int] | None = None,
) -> np.ndarray:
    """Turn 1/0, pos/neg, positive/negative or true/false labels into 1/0.

    An invalid label raises `InputError` naming its 1-based data row, taken from the 0-based
    `record_numbers` when given, else from its position in `values`.
    """
    values = pd.Series(values, dtype=object)
    normalised = values.astype(str).str.strip().str.lower()
    unknown = ~normalised.isin(POSITIVE_LABELS | NEGATIVE_LABELS)
    if unknown.any():
        position = int(np.flatnonzero(unknown.to_numpy())[0])
        row = record_numbers[position] if record_numbers is not None else position
        raise InputError(
            f"{source}: label {values.iloc[position]!r} in column {column!r}, data row "
            f"{row + 1}, is invalid: use 1/0, pos/neg, positive/negative or true/false"
        )
    return normalised.isin(POSITIVE_LABELS).to_numpy().astype(np.int8)


class LabelledScores:
    """Scores with their true labels, gathered chunk by chunk for `classification_metrics`.

    Memory grows by 5 bytes per labelled row: 5 MB for a million rows.
    """

    def __init__(self) -> None:
        self.labels: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(part) for part in self.labels)

    def add(self, labels: np.ndarray, scores: np.ndarray) -> None:
        self.labels.append(np.asarray(labels, dtype=np.int8))
        self.scores.append(np.asarray(scores, dtype=np.float32))

    def merge(self, other: LabelledScores) -> None:
        self.labels.extend(other.labels)
        self.scores.extend(other.scores)

    def metrics(self, threshold: float) -> dict:
        return classification_metrics(
            np.concatenate(self.labels), np.concatenate(self.scores), threshold
        )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Return the area under the ROC curve, or None when only one class is present."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    # Mann-Whitney U: the chance that a random positive outscores a random negative.
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    rank_sum = float(ranks[labels == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Return accuracy, precision, recall, F1, ROC AUC and the confusion matrix."""
    labels = np.asarray(labels).astype(np.int8)
    predicted = (np.asarray(scores) >= threshold).astype(np.int8)
    true_positive = int(((predicted == 1) & (labels == 1)).sum())
    false_positive = int(((predicted == 1) & (labels == 0)).sum())
    false_negative = int(((predicted == 0) & (labels == 1)).sum())
    true_negative = int(((predicted == 0) & (labels == 0)).sum())
    total = len(labels)
    precision = true_positive / max(true_positive + false_positive, 1)
    recall = true_positive / max(true_positive + false_negative, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {
        "reviews": total,
        "threshold": threshold,
        "accuracy": (true_positive + true_negative) / max(total, 1),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(labels, np.asarray(scores)),
        "confusion_matrix": {
            "true_negative": true_negative,
            "false_positive": false_positive,
            "false_negative": false_negative,
            "true_positive": true_positive,
        },
    }


def format_metrics(metrics: dict) -> str:
    """Format metrics as a short multi-line report for a terminal or a log."""
    matrix = metrics["confusion_matrix"]
    auc = "n/a" if metrics["roc_auc"] is None else f"{metrics['roc_auc']:.4f}"
    return "\n".join(
        [
            f"reviews    {metrics['reviews']}",
            f"accuracy   {metrics['accuracy']:.4f}",
            f"precision  {metrics['precision']:.4f}",
            f"recall     {metrics['recall']:.4f}",
            f"f1         {metrics['f1']:.4f}",
            f"roc_auc    {auc}",
            "confusion  predicted negative / positive",
            f"  negative {matrix['true_negative']:>8} {matrix['false_positive']:>8}",
            f"  positive {matrix['false_negative']:>8} {matrix['true_positive']:>8}",
        ]
    )
