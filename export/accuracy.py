"""Accuracy and batch-independence checks of an exported model on labelled reviews."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx

from score.model import SentimentModel
from train import data

logger = logging.getLogger(__name__)

# Reviews scored one at a time and then all together by `check_batch_independence`.
INDEPENDENCE_REVIEWS = 256


def load_labelled(path: str | Path) -> data.Reviews:
    """Load labelled reviews from a CSV file (`review`, `sentiment`) or an aclImdb folder.

    An aclImdb root folder gives its `test` split, and a split folder its `pos` and `neg`.
    """
    path = Path(path)
    if path.is_file():
        return data.load_csv(path, "review", "sentiment")
    if (path / "pos").is_dir():
        return data.load_aclimdb_split(path)
    if (path / "test" / "pos").is_dir():
        return data.load_aclimdb_split(path / "test")
    raise data.DataError(
        f"labelled data {path} not found or not recognised: pass a CSV file with review and "
        "sentiment columns, or an aclImdb folder"
    )


class LoadedModel:
    """A model proto written to a temporary file and loaded by the scorer."""

    def __init__(self, proto: onnx.ModelProto, threads: int | None = None):
        self.folder = tempfile.TemporaryDirectory()
        path = Path(self.folder.name) / "model.onnx"
        onnx.save(proto, path)
        self.model = SentimentModel(path, threads=threads)

    def __enter__(self) -> SentimentModel:
        return self.model

    def __exit__(self, *exc_info) -> None:
        self.folder.cleanup()


def measure_accuracy(proto: onnx.ModelProto, reviews: data.Reviews) -> float:
    """Return the share of `reviews` whose label the model predicts at its threshold."""
    with LoadedModel(proto) as model:
        scores = model.score_texts(reviews.texts)
        predicted = scores >= model.threshold
    return float(np.mean(predicted == (reviews.labels == 1)))


def check_batch_independence(proto: onnx.ModelProto, reviews: data.Reviews) -> float:
    """Return the largest score difference between reviews scored alone and in one batch."""
    texts = reviews.texts[:INDEPENDENCE_REVIEWS]
    with LoadedModel(proto, threads=1) as model:
        encoded = model.encode(texts)
        together = model.run_batch(encoded.ids, encoded.lengths)
        alone = np.concatenate(
            [
                model.run_batch(encoded.ids[row : row + 1], encoded.lengths[row : row + 1])
                for row in range(len(texts))
            ]
        )
    return float(np.abs(together - alone).max(initial=0.0))
