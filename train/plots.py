"""PNG figures of a training run: learning curves, confusion matrix and calibration."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed or wanted.

import matplotlib.pyplot as plt
import numpy as np

LEARNING_CURVES_NAME = "learning_curves.png"
CONFUSION_MATRIX_NAME = "confusion_matrix.png"
CALIBRATION_NAME = "calibration.png"


def write_plots(
    out: Path,
    history: dict[str, list[float]],
    best_epoch: int,
    test_labels: np.ndarray,
    test_scores: np.ndarray,
    threshold: float = 0.5,
) -> None:
    """Write the three figures of a run into `out`."""
    write_learning_curves(out / LEARNING_CURVES_NAME, history, best_epoch)
    write_confusion_matrix(out / CONFUSION_MATRIX_NAME, test_labels, test_scores >= threshold)
    write_calibration(out / CALIBRATION_NAME, test_labels, test_scores)


def write_learning_curves(path: Path, history: dict[str, list[float]], best_epoch: int) -> None:
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        axis.plot(epochs, history[metric], marker="o", label="training")
        axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.axvline(best_epoch, color="grey", linestyle="--", label=f"kept (epoch {best_epoch})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_xticks(epochs)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_confusion_matrix(path: Path, labels: np.ndarray, predicted: np.ndarray) -> None:
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (labels.astype(int), predicted.astype(int)), 1)
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        axis.text(column, row, f"{count:,}", ha="center", va="center", color=color)
    axis.set_xticks([0, 1], ["negative", "positive"])
    axis.set_yticks([0, 1], ["negative", "positive"])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title("test set")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_calibration(path: Path, labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> None:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    mean_score = np.bincount(which, weights=scores, minlength=bins) / np.maximum(counts, 1)
    positive_rate = np.bincount(which, weights=labels, minlength=bins) / np.maximum(counts, 1)
    used = counts > 0
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    axis.plot(mean_score[used], positive_rate[used], marker="o", label="model")
    axis.set_xlabel("mean score in bin")
    axis.set_ylabel("share of positive reviews")
    axis.set_title("calibration on the test set")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
