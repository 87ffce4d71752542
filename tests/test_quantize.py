"""Int8 export: accuracy check, metadata and scores that do not depend on the batch."""

import json

import numpy as np
import onnx
import pytest

from score import SentimentModel
from tests.conftest import SMALL_MODEL, run_module

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def bidirectional_run(generated_data, tmp_path_factory):
    """A small bidirectional LSTM with max pooling, trained through the CLI."""
    folder = tmp_path_factory.mktemp("bidirectional")
    run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(folder),
        *SMALL_MODEL,
        "--pooling", "max",
        "--bidirectional",
    )  # fmt: skip
    run_module("export", str(folder), "--output", str(folder / "model.onnx"))
    return folder


@pytest.fixture(scope="module", params=["forward-last", "bidirectional-max"])
def models(request, trained_run, exported_model, generated_data):
    """Float32 and int8 files of the same run: (float32 path, int8 path)."""
    if request.param == "forward-last":
        folder, float_model = trained_run, exported_model
    else:
        folder = request.getfixturevalue("bidirectional_run")
        float_model = folder / "model.onnx"
    output = folder / "int8.onnx"
    run_module(
        "export",
        str(folder),
        "--output",
        str(output),
        "--quantize",
        "int8",
        "--data",
        str(generated_data / "test.csv"),
        # The 16-unit test model is too small for the 0.3-point default to be meaningful.
        "--max-accuracy-loss",
        "0.05",
    )
    return float_model, output


def test_int8_metadata(models):
    exported_model, int8_model = models
    entries = {entry.key: entry.value for entry in onnx.load(int8_model).metadata_props}
    float_entries = {entry.key: entry.value for entry in onnx.load(exported_model).metadata_props}
    assert set(float_entries) <= set(entries)
    export = json.loads(entries["sentiment.export"])
    assert "dynamic_int8_lstm" in export["optimizations"]
    assert "pinned_activation_ranges" in export["optimizations"]
    assert export["accuracy"]["reviews"] == 200
    assert export["accuracy"]["float32"] - export["accuracy"]["int8"] <= 0.05


def test_int8_scores_batch_independent(models, generated_data):
    int8_model = models[1]
    texts = (generated_data / "test.csv").read_text().splitlines()[1:80]
    model = SentimentModel(int8_model, threads=1)
    together = model.score_texts(texts)
    alone = np.concatenate([model.score_texts([text]) for text in texts])
    shuffled_order = np.random.default_rng(3).permutation(len(texts))
    shuffled = np.empty(len(texts), dtype=np.float32)
    shuffled[shuffled_order] = SentimentModel(int8_model, threads=2, batch_size=5).score_texts(
        [texts[index] for index in shuffled_order]
    )
    assert np.array_equal(together, alone)
    assert np.array_equal(together, shuffled)


def test_int8_close_to_float(models, generated_data):
    exported_model, int8_model = models
    texts = (generated_data / "test.csv").read_text().splitlines()[1:80]
    quantized = SentimentModel(int8_model).score_texts(texts)
    reference = SentimentModel(exported_model).score_texts(texts)
    assert np.abs(quantized - reference).max() < 0.05


def test_pinned_float_graph_unchanged(models, generated_data, tmp_path):
    exported_model = models[0]
    from export.convert import _remove_unused_nodes, _sort_topologically
    from export.quantize import pin_activation_ranges

    proto = onnx.load(exported_model)
    pin_activation_ranges(proto, "token_ids")
    _sort_topologically(proto.graph)
    _remove_unused_nodes(proto.graph)
    pinned = tmp_path / "pinned.onnx"
    onnx.save(proto, pinned)
    texts = (generated_data / "test.csv").read_text().splitlines()[1:80]
    np.testing.assert_array_equal(
        SentimentModel(pinned).score_texts(texts),
        SentimentModel(exported_model).score_texts(texts),
    )


def test_int8_rejects_accuracy_loss(trained_run, generated_data, tmp_path):
    from export.convert import ExportError, export_run

    output = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="lowers accuracy"):
        export_run(
            trained_run,
            output,
            quantize="int8",
            data=generated_data / "test.csv",
            max_accuracy_loss=-1.0,
        )
    assert list(tmp_path.iterdir()) == []


def test_int8_needs_data(trained_run, tmp_path):
    from export.convert import ExportError, export_run

    with pytest.raises(ExportError, match="needs labelled data"):
        export_run(trained_run, tmp_path / "model.onnx", quantize="int8")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--quantize", "int8"], "--quantize needs --data"),
        (["--data", "reviews.csv"], "--data is only read with --quantize"),
        (["--quantize", "int8", "--data", "x.csv", "--max-accuracy-loss", "5"], "is invalid"),
    ],
    ids=["quantize-without-data", "data-without-quantize", "loss-out-of-range"],
)
def test_export_usage_errors_exit_2(trained_run, tmp_path, arguments, message):
    output = tmp_path / "model.onnx"
    result = run_module("export", str(trained_run), "-o", str(output), *arguments, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert not output.exists()


def test_export_missing_run_folder_exits_2(tmp_path):
    result = run_module("export", str(tmp_path / "missing"), check=False)
    assert result.returncode == 2
    assert "best.keras not found" in result.stderr
