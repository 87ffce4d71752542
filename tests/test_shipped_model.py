"""The default model shipped in the package scores the sample file."""

import subprocess
import sys

import numpy as np
import pandas as pd

from score import SentimentModel
from score.model import default_model_path
from tests.conftest import REPOSITORY, SAMPLE_REVIEWS, run_module

FLOAT32_MODEL = default_model_path().with_name("default-float32.onnx")


def test_shipped_model_loads():
    model = SentimentModel()
    assert model.path == default_model_path()
    assert model.metadata.sequence_length == 400
    assert model.metadata.vocabulary_size == 20000
    assert model.metadata.architecture == "lstm"
    assert model.metadata.settings["bidirectional"] is True
    assert model.metadata.metrics["test_accuracy"] >= 0.89


def test_shipped_model_scores_sample(tmp_path):
    output = tmp_path / "sample.scored.csv"
    run_module("score", str(SAMPLE_REVIEWS), "-o", str(output))
    scored = pd.read_csv(output, dtype=str)
    sample = pd.read_csv(SAMPLE_REVIEWS, dtype=str)
    assert scored.columns.tolist() == ["id", "score", "label", "status"]
    assert scored["id"].tolist() == sample["id"].tolist()
    assert scored["score"].astype(float).between(0, 1).all()
    assert set(scored["label"]) == {"positive", "negative"}


def test_scoring_imports_no_tensorflow():
    code = (
        "import sys, score, score.cli, score.api;"
        "score.SentimentModel().score_texts(['fine']);"
        "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY)
    assert result.returncode == 0


def test_shipped_scores_batch_independent():
    texts = pd.read_csv(SAMPLE_REVIEWS, dtype=str)["review"].tolist()
    model = SentimentModel(threads=1)
    together = model.score_texts(texts)
    alone = np.concatenate([model.score_texts([text]) for text in texts])
    reversed_scores = SentimentModel(threads=2, batch_size=3).score_texts(texts[::-1])[::-1]
    assert np.array_equal(together, alone)
    assert np.array_equal(together, reversed_scores)


def test_shipped_float32_standard_operators():
    import onnx

    model = onnx.load(FLOAT32_MODEL)
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}


def test_shipped_models_agree():
    texts = pd.read_csv(SAMPLE_REVIEWS, dtype=str)["review"].tolist()
    default = SentimentModel()
    quantised = default.score_texts(texts)
    reference = SentimentModel(FLOAT32_MODEL).score_texts(texts)
    assert np.abs(quantised - reference).max() < 0.05
    assert ((quantised >= default.threshold) == (reference >= default.threshold)).all()


def test_shipped_model_card_links_figures():
    card = (FLOAT32_MODEL.parent / "MODEL_CARD.md").read_text()
    for figure in ("learning_curves.png", "confusion_matrix.png", "calibration.png"):
        assert f"]({figure})" in card
        assert (FLOAT32_MODEL.parent / figure).is_file()
