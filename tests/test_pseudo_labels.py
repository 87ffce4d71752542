"""Self-training: a teacher model labels unlabelled reviews for the next run."""

import json

import numpy as np
import pytest

from tests.conftest import SMALL_MODEL, generate_reviews, run_module

pytest.importorskip("tensorflow")

from train.data import DataError  # noqa: E402
from train.pseudo_labels import pseudo_label  # noqa: E402


def write_aclimdb_with_unlabelled(root):
    for split, seed, count in (("train", 11, 400), ("test", 12, 100)):
        frame = generate_reviews(count, seed)
        for label, name in ((1, "pos"), (0, "neg")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index, text in enumerate(frame.review[frame.sentiment == label]):
                (folder / f"{index}_{8 if label else 3}.txt").write_text(text)
    unlabelled = root / "train" / "unsup"
    unlabelled.mkdir()
    for index, text in enumerate(generate_reviews(300, 13).review):
        (unlabelled / f"{index}_0.txt").write_text(text)


def test_teacher_labels_as_many_reviews_of_each_label(exported_model):
    texts = generate_reviews(300, 14).review.tolist()
    reviews = pseudo_label(exported_model, texts, margin=0.3)
    assert len(reviews) > 0
    assert np.count_nonzero(reviews.labels == 1) == np.count_nonzero(reviews.labels == 0)
    assert set(reviews.texts) <= set(texts)


def test_soft_labels_keep_every_review_with_its_score(exported_model):
    texts = generate_reviews(50, 15).review.tolist()
    reviews = pseudo_label(exported_model, texts, margin=0.05, soft=True)
    assert reviews.texts == texts
    assert reviews.labels.dtype == np.float32
    assert ((reviews.labels >= 0) & (reviews.labels <= 1)).all()
    assert len(np.unique(reviews.labels)) > 2


def test_margin_outside_range_is_refused(exported_model):
    with pytest.raises(DataError, match="between 0 and 0.5"):
        pseudo_label(exported_model, ["good"], margin=0.7)


@pytest.mark.parametrize("soft", [False, True], ids=["verdicts", "soft-labels"])
def test_training_with_a_teacher_adds_its_reviews(exported_model, tmp_path, soft):
    data = tmp_path / "aclImdb"
    write_aclimdb_with_unlabelled(data)
    run = tmp_path / "run"
    run_module(
        "train",
        "--data", str(data),
        "--out", str(run),
        *SMALL_MODEL,
        "--teacher", str(exported_model),
        "--pseudo-label-margin", "0.3",
        *(["--soft-labels"] if soft else []),
    )  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    card = (run / "MODEL_CARD.md").read_text()
    assert metrics["counts"]["train"] == 320
    if soft:
        assert metrics["counts"]["pseudo_labelled"] == 300
        assert "Distillation" in card
    else:
        assert 0 < metrics["counts"]["pseudo_labelled"] <= 300
        assert "Self-training" in card


def test_teacher_without_unlabelled_reviews_fails_cleanly(generated_data, exported_model, tmp_path):
    result = run_module(
        "train",
        "--data", str(generated_data),
        "--out", str(tmp_path),
        *SMALL_MODEL,
        "--teacher", str(exported_model),
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs unlabelled reviews" in result.stderr
    assert "Traceback" not in result.stderr


def test_teacher_that_is_not_onnx_fails_cleanly(generated_data, tmp_path):
    data = tmp_path / "aclImdb"
    write_aclimdb_with_unlabelled(data)
    not_a_model = tmp_path / "metrics.json"
    not_a_model.write_text("{}")
    result = run_module(
        "train",
        "--data", str(data),
        "--out", str(tmp_path / "run"),
        *SMALL_MODEL,
        "--teacher", str(not_a_model),
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--teacher: model" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "option", [["--soft-labels"], ["--pseudo-label-margin", "0.2"]], ids=["soft", "margin"]
)
def test_teacher_options_without_teacher_are_rejected(generated_data, tmp_path, option):
    result = run_module(
        "train", "--data", str(generated_data), "--out", str(tmp_path), *option, check=False
    )
    assert result.returncode == 2
    assert "need --teacher" in result.stderr
