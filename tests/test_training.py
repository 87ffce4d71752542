"""Training runs: reproducibility, the model card, and pretrained embeddings."""

import json

import pytest

from tests.conftest import SMALL_MODEL, run_module

pytest.importorskip("tensorflow")


def test_training_reproducible_with_seed(generated_data, trained_run, tmp_path):
    run_module(
        "train", "--data", str(generated_data), "--out", str(tmp_path), *SMALL_MODEL, "--seed", "7"
    )
    first = json.loads((trained_run / "metrics.json").read_text())
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert again["data_fingerprint"] == first["data_fingerprint"]
    assert again["best_epoch"] == first["best_epoch"]
    assert abs(again["validation_accuracy"] - first["validation_accuracy"]) <= 0.002
    assert abs(again["test_accuracy"] - first["test_accuracy"]) <= 0.002


def test_model_card_describes_run(trained_run):
    card = (trained_run / "MODEL_CARD.md").read_text()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert f"{100 * metrics['test_accuracy']:.2f}%" in card
    assert "LSTM(16" in card
    assert metrics["data_fingerprint"]["train"] in card
    assert "Intended use and limits" in card
    assert "learning_curves.png" in card


def test_pretrained_embeddings_run(generated_data, tmp_path):
    pytest.importorskip("gensim")
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--pretrain-embeddings",
        "--pretrain-epochs", "2",
    )  # fmt: skip
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["pretrain_embeddings"] == "True"
    assert "word2vec" in (tmp_path / "MODEL_CARD.md").read_text()
