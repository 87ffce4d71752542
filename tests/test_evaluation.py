"""Classification metrics and `--label-column` evaluation through the CLI."""

import json

import numpy as np
import pytest

from score.errors import InputError
from score.evaluation import classification_metrics, parse_labels, roc_auc
from tests.conftest import generate_reviews, run_module


def test_metrics_on_known_counts():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.4, 0.7])
    metrics = classification_metrics(labels, scores, threshold=0.5)
    assert metrics["confusion_matrix"] == {
        "true_negative": 3,
        "false_positive": 1,
        "false_negative": 1,
        "true_positive": 3,
    }
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["recall"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["roc_auc"] == pytest.approx(14 / 16)


def test_roc_auc_ties_count_half():
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)


def test_roc_auc_one_class_is_none():
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.9])) is None


def test_parse_labels_accepts_words():
    labels = parse_labels(["1", "0", "pos", "NEG", " positive ", "false"], "y", "f.csv")
    assert labels.tolist() == [1, 0, 1, 0, 1, 0]


def test_parse_labels_names_record():
    with pytest.raises(InputError, match="'maybe' in column 'y', data row 8"):
        parse_labels(["1", "maybe"], "y", "f.csv", record_numbers=[3, 7])


def test_label_column_cli_evaluates(tmp_path):
    reviews = generate_reviews(40, seed=5)
    source = tmp_path / "labelled.csv"
    reviews.to_csv(source, index=False)
    summary_path = tmp_path / "summary.json"
    result = run_module(
        "score",
        str(source),
        "--label-column",
        "sentiment",
        "--summary",
        str(summary_path),
    )
    evaluation = json.loads(summary_path.read_text())["evaluation"]
    assert evaluation["reviews"] == 40
    matrix = evaluation["confusion_matrix"]
    assert sum(matrix.values()) == 40
    assert matrix["true_positive"] + matrix["false_negative"] == 20
    assert f"accuracy   {evaluation['accuracy']:.4f}" in result.stdout
    assert "roc_auc" in result.stdout


def test_label_column_invalid_label(tmp_path):
    source = tmp_path / "labelled.csv"
    source.write_text("review,sentiment\ngreat,1\nawful,sideways\n", encoding="utf-8")
    result = run_module("score", str(source), "--label-column", "sentiment", check=False)
    assert result.returncode == 2
    assert "'sideways' in column 'sentiment', data row 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "labelled.scored.csv").exists()


def test_label_column_missing(tmp_path):
    source = tmp_path / "reviews.csv"
    source.write_text("review\ngreat\n", encoding="utf-8")
    result = run_module("score", str(source), "--label-column", "sentiment", check=False)
    assert result.returncode == 2
    assert "no column 'sentiment' (found: 'review')" in result.stderr
