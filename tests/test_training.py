"""Training runs: reproducibility, the model card, and pretrained embeddings."""

import json

import numpy as np
import onnx
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
    assert f"the {metrics['vocabulary_words']:,} most frequent training tokens" in card
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
    assert (tmp_path / "embeddings.npy").is_file()

    reused = tmp_path / "reused"
    embeddings = str(tmp_path / "embeddings.npy")
    run_module(
        "train", "--data", str(generated_data), "--out", str(reused), *SMALL_MODEL,
        "--embeddings", embeddings,
    )  # fmt: skip
    assert (reused / "best.keras").is_file()

    other_vocabulary = run_module(
        "train", "--data", str(generated_data), "--out", str(tmp_path / "other"), *SMALL_MODEL,
        "--vocabulary-size", "20", "--embeddings", embeddings,
        check=False,
    )  # fmt: skip
    assert other_vocabulary.returncode == 2
    assert "index another vocabulary" in other_vocabulary.stderr
    assert "Traceback" not in other_vocabulary.stderr


def test_mean_pooling_exports_with_parity(generated_data, tmp_path):
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--pooling", "mean",
    )  # fmt: skip
    run_module("export", str(tmp_path), "--output", str(tmp_path / "model.onnx"))
    model = onnx.load(tmp_path / "model.onnx")
    operators = {node.op_type for node in model.graph.node}
    assert "ReduceSum" in operators
    assert "ReduceMean" not in operators
    entries = {entry.key: entry.value for entry in model.metadata_props}
    export = json.loads(entries["sentiment.export"])
    assert export["parity_max_abs_difference"] <= 1e-4
    assert json.loads(entries["sentiment.preprocessing"])["pooling"] == "mean"


@pytest.mark.parametrize(
    "direction",
    [[], ["--bidirectional", "--token-dropout", "0.2"]],
    ids=["forward", "bidirectional-token-dropout"],
)
def test_max_pooling_exports_with_parity(generated_data, tmp_path, direction):
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--pooling", "max",
        *direction,
    )  # fmt: skip
    run_module("export", str(tmp_path), "--output", str(tmp_path / "model.onnx"))
    model = onnx.load(tmp_path / "model.onnx")
    operators = [node.op_type for node in model.graph.node]
    assert operators.count("LSTM") == 1
    assert "Where" in operators
    entries = {entry.key: entry.value for entry in model.metadata_props}
    export = json.loads(entries["sentiment.export"])
    assert export["parity_max_abs_difference"] <= 1e-4
    settings = json.loads(entries["sentiment.preprocessing"])
    assert settings["pooling"] == "max"
    assert settings["bidirectional"] == ("--bidirectional" in direction)


def test_bidirectional_lstm_needs_pooled_outputs(generated_data, tmp_path):
    result = run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--bidirectional",
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--pooling mean or max" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_monitored_metric_stops_training():
    from train.run import RequireMonitoredMetric

    callback = RequireMonitoredMetric("val_loss")
    with pytest.raises(RuntimeError, match="'val_loss' is missing"):
        callback.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.8})
    callback.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})


def test_mlp_baseline_trains_exports_scores(generated_data, tmp_path):
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--arch", "mlp",
    )  # fmt: skip
    model_path = tmp_path / "model.onnx"
    run_module("export", str(tmp_path), "--output", str(model_path))
    model = onnx.load(model_path)
    assert [value.name for value in model.graph.input] == ["token_ids"]
    output = tmp_path / "scored.csv"
    run_module(
        "score",
        str(generated_data / "test.csv"),
        "-o", str(output),
        "--model", str(model_path),
        "--label-column", "sentiment",
        "--summary", str(tmp_path / "summary.json"),
    )  # fmt: skip
    evaluation = json.loads((tmp_path / "summary.json").read_text())["evaluation"]
    assert evaluation["reviews"] == 200
    assert evaluation["accuracy"] > 0.8


def test_threshold_chosen_on_validation():
    from train.run import choose_threshold

    labels = np.array([0, 0, 0, 1, 1, 1])
    assert choose_threshold(np.array([0.1, 0.2, 0.42, 0.45, 0.8, 0.9]), labels) == 0.45
    assert choose_threshold(np.array([0.1, 0.2, 0.3, 0.8, 0.8, 0.9]), labels) == 0.5


def test_tuned_threshold_reaches_the_exported_model(generated_data, tmp_path):
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--tune-threshold",
    )  # fmt: skip
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.3 <= metrics["threshold"] <= 0.7
    run_module("export", str(tmp_path), "--output", str(tmp_path / "model.onnx"))
    entries = {
        entry.key: entry.value for entry in onnx.load(tmp_path / "model.onnx").metadata_props
    }
    assert float(entries["sentiment.threshold"]) == metrics["threshold"]
