"""Length-bucketed batches: every review once per epoch, padding trimmed, scores unchanged."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train import batches  # noqa: E402
from train.model import LSTM, MAX, build_model  # noqa: E402


def padded_ids(count: int, width: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    lengths = generator.integers(1, width + 1, count)
    ids = generator.integers(2, 50, (count, width), dtype=np.int32)
    ids[np.arange(width)[None, :] >= lengths[:, None]] = 0
    return ids


def test_training_batches_cover_each_review_once_per_epoch():
    ids = padded_ids(1000, 30, seed=1)
    labels = np.arange(1000)
    dataset = batches.LengthBatches(ids, labels, batch_size=16, seed=3)
    for _ in range(2):
        seen = []
        for index in range(len(dataset)):
            batch, batch_labels = dataset[index]
            lengths = (ids[batch_labels] != 0).sum(axis=1)
            assert batch.shape[1] == lengths.max()
            assert (batch == ids[batch_labels, : batch.shape[1]]).all()
            seen.extend(batch_labels)
        assert sorted(seen) == list(range(1000))
        dataset.on_epoch_end()


def test_training_batches_repeat_with_the_seed():
    ids = padded_ids(300, 20, seed=2)
    first = batches.LengthBatches(ids, np.arange(300), batch_size=8, seed=5)
    again = batches.LengthBatches(ids, np.arange(300), batch_size=8, seed=5)
    assert all((a == b).all() for a, b in zip(first.batches, again.batches, strict=True))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_sorted_prediction_matches_padded_prediction(bidirectional):
    ids = padded_ids(200, 40, seed=4)
    model = build_model(
        LSTM,
        vocabulary_size=50,
        sequence_length=40,
        embedding_dim=8,
        units=8,
        pooling=MAX,
        bidirectional=bidirectional,
    )
    expected = model.predict(ids, batch_size=64, verbose=0).reshape(-1)
    actual = batches.predict(model, ids, batch_size=32)
    np.testing.assert_allclose(actual, expected, atol=1e-6)
