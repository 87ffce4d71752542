"""Batches of reviews of similar length, each cut at its longest review.

A masked LSTM still steps through every padded position of its batch. Grouping reviews of
similar length and trimming each batch's padding skips most of that work, without changing
what the model computes for any review.
"""

from __future__ import annotations

import keras
import numpy as np

from score.preprocessing import PADDING_ID

# Batches drawn together, then sorted by length: large enough to find similar lengths, small
# enough that a pool still mixes reviews from the whole training set.
POOL_BATCHES = 50


def _lengths(ids: np.ndarray) -> np.ndarray:
    return (ids != PADDING_ID).sum(axis=1)


def _trim(ids: np.ndarray, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return ids[rows, : max(1, int(lengths[rows].max()))]


class LengthBatches(keras.utils.PyDataset):
    """Shuffled training batches, each holding reviews of similar length.

    Every epoch draws a new order from `seed`: the reviews are shuffled, cut into pools of
    `POOL_BATCHES` batches, sorted by length within each pool, and the batches are shuffled.
    """

    def __init__(self, ids: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.ids = ids
        self.labels = np.asarray(labels)
        self.lengths = _lengths(ids)
        self.batch_size = batch_size
        self.random = np.random.default_rng(seed)
        self.batches = self._plan()

    def _plan(self) -> list[np.ndarray]:
        order = self.random.permutation(len(self.ids))
        pool_size = self.batch_size * POOL_BATCHES
        batches = []
        for start in range(0, len(order), pool_size):
            pool = order[start : start + pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(np.split(pool, range(self.batch_size, len(pool), self.batch_size)))
        return [batches[index] for index in self.random.permutation(len(batches))]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.batches[index]
        return _trim(self.ids, rows, self.lengths), self.labels[rows]

    def on_epoch_end(self) -> None:
        self.batches = self._plan()


class SortedBatches(keras.utils.PyDataset):
    """Batches in order of length, for validation and prediction. `rows` maps them back."""

    def __init__(self, ids: np.ndarray, labels: np.ndarray | None, batch_size: int):
        super().__init__()
        self.ids = ids
        self.labels = None if labels is None else np.asarray(labels)
        self.lengths = _lengths(ids)
        self.rows = np.argsort(self.lengths, kind="stable")
        self.batches = np.split(self.rows, range(batch_size, len(self.rows), batch_size))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        rows = self.batches[index]
        ids = _trim(self.ids, rows, self.lengths)
        return ids if self.labels is None else (ids, self.labels[rows])


def predict(model: keras.Model, ids: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Return the model's scores for `ids` in their original order, batching by length."""
    batches = SortedBatches(ids, None, batch_size)
    sorted_scores = model.predict(batches, verbose=0).reshape(-1)
    scores = np.empty_like(sorted_scores)
    scores[batches.rows] = sorted_scores
    return scores
