"""Train, export and score through the three command lines, on generated reviews."""

import json

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest

from tests.conftest import run_module

pytest.importorskip("tensorflow")


def test_train_writes_run_folder(trained_run):
    for name in (
        "best.keras",
        "vocabulary.txt",
        "preprocessing.json",
        "metrics.json",
        "learning_curves.png",
        "confusion_matrix.png",
        "calibration.png",
    ):
        assert (trained_run / name).is_file(), name
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["counts"] == {
        "train": 480,
        "validation": 120,
        "pseudo_labelled": 0,
        "test": 200,
        "unlabelled": 0,
    }
    assert len(metrics["history"]["val_loss"]) == 2
    assert metrics["best_epoch"] in (1, 2)
    assert 0 <= metrics["test_accuracy"] <= 1
    assert metrics["seed"] == 7
    assert "tensorflow" in metrics["versions"]


def test_export_parity_and_metadata(exported_model):
    model = onnx.load(exported_model)
    domains = {node.domain for node in model.graph.node}
    assert domains <= {"", "ai.onnx"}
    entries = {entry.key: entry.value for entry in model.metadata_props}
    export = json.loads(entries["sentiment.export"])
    assert export["parity_reviews"] >= 1000
    assert export["parity_max_abs_difference"] <= 1e-4
    settings = json.loads(entries["sentiment.preprocessing"])
    assert settings["sequence_length"] == 48
    assert settings["vocabulary_size"] == 200
    assert len(entries["sentiment.vocabulary"].split("\n")) <= 198


def test_export_batch_dimension_dynamic(exported_model):
    session = onnxruntime.InferenceSession(str(exported_model))
    for batch in (1, 7, 300):
        ids = np.ones((batch, 5), dtype=np.int32)
        lengths = np.full(batch, 5, dtype=np.int32)
        scores = session.run(["scores"], {"token_ids": ids, "sequence_lengths": lengths})[0]
        assert scores.shape == (batch, 1)


def test_export_fails_on_parity_and_writes_nothing(trained_run, tmp_path):
    from export.convert import ExportError, export_run

    output = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="differ from Keras"):
        export_run(trained_run, output, tolerance=0.0)
    assert list(tmp_path.iterdir()) == []


def test_score_cli_accuracy(exported_model, generated_data, tmp_path):
    output = tmp_path / "scored.csv"
    run_module(
        "score",
        str(generated_data / "test.csv"),
        "-o",
        str(output),
        "--model",
        str(exported_model),
    )
    scored = pd.read_csv(output, dtype={"id": str})
    expected = pd.read_csv(generated_data / "test.csv", dtype={"id": str})
    assert scored["id"].tolist() == expected["id"].tolist()
    assert scored["score"].between(0, 1).all()
    predicted = (scored["label"] == "positive").astype(int)
    accuracy = (predicted == expected["sentiment"]).mean()
    assert accuracy > 0.9, accuracy
