"""Pretrain the classifier's LSTM as a language model on unlabelled reviews.

The classifier's own embedding and recurrent layers learn to predict words before they learn
sentiment: the forward LSTM's output at each step predicts the next token, and the backward
LSTM's output predicts the token before. The labels are not used, so the training reviews and
the unlabelled aclImdb reviews can all be read; the test reviews never are. A sampled softmax
over the vocabulary keeps each step cheap: the vocabulary ids are ranked by frequency, which is
what the log-uniform sampler of `tf.nn.sampled_softmax_loss` assumes.

The classifier then starts from these weights instead of random ones.
"""

from __future__ import annotations

import logging
import time

import keras
import numpy as np
import tensorflow as tf

from score.preprocessing import PADDING_ID
from train.batches import LengthBatches

logger = logging.getLogger(__name__)

SAMPLED_WORDS = 512


def _recurrent_layer(model: keras.Model) -> keras.layers.Layer:
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional | keras.layers.LSTM):
            return layer
    raise ValueError(f"model {model.name!r} has no LSTM layer to pretrain")


def _encoder(classifier: keras.Model) -> keras.Model:
    """The classifier's embedding and LSTM layers, returning the LSTM outputs at every step."""
    embedding = next(
        layer for layer in classifier.layers if isinstance(layer, keras.layers.Embedding)
    )
    recurrent = _recurrent_layer(classifier)
    inner = (
        recurrent.forward_layer if isinstance(recurrent, keras.layers.Bidirectional) else recurrent
    )
    if not inner.return_sequences:
        raise ValueError("language-model pretraining needs --pooling mean or max")
    ids = keras.Input(shape=(None,), dtype="int32")
    return keras.Model(ids, recurrent(embedding(ids)))


def pretrain_lstm(
    classifier: keras.Model,
    ids: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> list[float]:
    """Train the classifier's embedding and LSTM layers to predict neighbouring tokens in `ids`.

    `ids` are padded token ids, one review per row. The layers are trained in place, so the
    classifier keeps the result. Returns the mean sampled-softmax loss of each epoch.
    """
    encoder = _encoder(classifier)
    recurrent = _recurrent_layer(classifier)
    bidirectional = isinstance(recurrent, keras.layers.Bidirectional)
    units = (recurrent.forward_layer if bidirectional else recurrent).units
    vocabulary_size = encoder.layers[1].input_dim
    directions = 2 if bidirectional else 1
    initializer = keras.initializers.GlorotUniform(seed=seed)
    weights = [
        tf.Variable(initializer((vocabulary_size, units)), name=f"softmax_weights_{direction}")
        for direction in range(directions)
    ]
    biases = [
        tf.Variable(tf.zeros(vocabulary_size), name=f"softmax_biases_{direction}")
        for direction in range(directions)
    ]
    variables = encoder.trainable_variables + weights + biases
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    def direction_loss(outputs, targets, direction):
        keep = targets != PADDING_ID
        return tf.reduce_mean(
            tf.nn.sampled_softmax_loss(
                weights=weights[direction],
                biases=biases[direction],
                labels=tf.cast(tf.boolean_mask(targets, keep)[:, None], tf.int64),
                inputs=tf.boolean_mask(outputs, keep),
                num_sampled=min(SAMPLED_WORDS, vocabulary_size // 2),
                num_classes=vocabulary_size,
                seed=int(seed),
            )
        )

    @tf.function(reduce_retracing=True)
    def step(batch):
        with tf.GradientTape() as tape:
            outputs = encoder(batch, training=True)
            # The forward output at step t has read tokens 0..t and predicts token t + 1.
            loss = direction_loss(outputs[:, :-1, :units], batch[:, 1:], 0)
            if bidirectional:
                # The backward output at step t has read tokens t..end and predicts t - 1.
                loss += direction_loss(outputs[:, 1:, units:], batch[:, :-1], 1)
                loss /= 2
        gradients = tape.gradient(loss, variables)
        gradients, _ = tf.clip_by_global_norm(gradients, 1.0)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    labels = np.zeros(len(ids), dtype=np.int32)
    batches = LengthBatches(ids, labels, batch_size, seed)
    losses = []
    for epoch in range(epochs):
        started = time.monotonic()
        total = 0.0
        for index in range(len(batches)):
            batch, _ = batches[index]
            if batch.shape[1] < 2:
                continue
            total += float(step(tf.constant(batch)))
        batches.on_epoch_end()
        losses.append(total / len(batches))
        logger.info(
            "language model epoch %d/%d: sampled-softmax loss %.4f, %.0f s",
            epoch + 1,
            epochs,
            losses[-1],
            time.monotonic() - started,
        )
    return losses
