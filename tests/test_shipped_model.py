"""The default model shipped in the package scores the sample file."""

import subprocess
import sys

import pandas as pd

from score import SentimentModel
from score.model import default_model_path
from tests.conftest import REPOSITORY, SAMPLE_REVIEWS, run_module


def test_shipped_model_loads():
    model = SentimentModel()
    assert model.path == default_model_path()
    assert model.metadata.sequence_length == 200
    assert model.metadata.vocabulary_size == 20000
    assert model.metadata.architecture == "lstm"
    assert model.metadata.metrics["test_accuracy"] > 0.85


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
