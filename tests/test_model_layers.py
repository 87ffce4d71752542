"""The custom Keras layers: token dropout and the masked maximum over time."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from train.model import MASKED_OUTPUT, MaskedMaxPooling1D, TokenDropout, accuracy  # noqa: E402


def test_token_dropout_replaces_real_tokens_in_training_only():
    ids = np.tile(np.array([[5, 6, 7, 8, 9, 0, 0, 0]], dtype=np.int32), (400, 1))
    layer = TokenDropout(0.25, seed=2)
    dropped = keras.ops.convert_to_numpy(layer(ids, training=True))
    assert (dropped[:, 5:] == 0).all()
    replaced = dropped[:, :5] != ids[:, :5]
    assert (dropped[:, :5][replaced] == 1).all()
    assert 0.2 < replaced.mean() < 0.3
    assert (keras.ops.convert_to_numpy(layer(ids, training=False)) == ids).all()


def test_masked_maximum_ignores_padded_steps():
    outputs = np.array([[[-0.5, 0.1], [-0.2, -0.3], [0.0, 0.9]]], dtype=np.float32)
    mask = np.array([[True, True, False]])
    pooled = keras.ops.convert_to_numpy(MaskedMaxPooling1D()(outputs, mask=mask))
    np.testing.assert_allclose(pooled, [[-0.2, 0.1]])
    assert MASKED_OUTPUT < -1


def test_accuracy_rounds_soft_targets_per_review():
    targets = np.array([0.93, 0.1, 0.6, 0.45, 1.0], dtype=np.float32)
    predictions = np.array([[0.8], [0.3], [0.4], [0.2], [0.99]], dtype=np.float32)
    values = keras.ops.convert_to_numpy(accuracy(targets, predictions))
    assert values.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]
