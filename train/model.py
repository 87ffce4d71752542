"""The Keras models: the LSTM used by default and the MLP baseline."""

from __future__ import annotations

import keras
import numpy as np

LSTM = "lstm"
MLP = "mlp"
ARCHITECTURES = (LSTM, MLP)

# Pooling of the LSTM's outputs into one vector per review: its state after the last real token,
# or the mean of its outputs over the real tokens.
LAST = "last"
MEAN = "mean"
POOLINGS = (LAST, MEAN)


def build_model(
    architecture: str,
    vocabulary_size: int,
    sequence_length: int,
    embedding_dim: int = 128,
    units: int = 128,
    learning_rate: float = 1e-3,
    dropout: float = 0.0,
    mask_padding: bool = True,
    embedding_matrix: np.ndarray | None = None,
    pooling: str = LAST,
) -> keras.Model:
    """Build and compile a binary sentiment classifier over token ids.

    The LSTM masks the padding id 0, so a review's score depends only on its real tokens and
    the exported model can be run on batches padded to any width. `dropout` is the LSTM's input
    dropout during training; it changes nothing at inference. `mask_padding=False` builds the
    LSTM without its mask, for export only. `embedding_matrix`, of shape (vocabulary_size,
    embedding_dim), gives the embedding's starting weights. `pooling` is `last` (the LSTM's
    final state) or `mean` (its outputs averaged over the real tokens). The MLP flattens a fixed
    window of `sequence_length` tokens, padding included.
    """
    initializer = "uniform"
    if embedding_matrix is not None:
        initializer = keras.initializers.Constant(embedding_matrix)
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r} is unknown: use one of {POOLINGS}")
    if architecture == LSTM:
        if pooling == MEAN:
            recurrent = [
                keras.layers.LSTM(units, dropout=dropout, return_sequences=True),
                keras.layers.GlobalAveragePooling1D(),
            ]
        else:
            recurrent = [keras.layers.LSTM(units, dropout=dropout)]
        model = keras.Sequential(
            [
                keras.Input(shape=(None,), dtype="int32", name="token_ids"),
                keras.layers.Embedding(
                    vocabulary_size,
                    embedding_dim,
                    embeddings_initializer=initializer,
                    mask_zero=mask_padding,
                ),
                *recurrent,
                keras.layers.Dense(1, activation="sigmoid"),
            ],
            name="lstm",
        )
    elif architecture == MLP:
        model = keras.Sequential(
            [
                keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids"),
                keras.layers.Embedding(
                    vocabulary_size, embedding_dim, embeddings_initializer=initializer
                ),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ],
            name="mlp",
        )
    else:
        raise ValueError(f"architecture {architecture!r} is unknown: use one of {ARCHITECTURES}")

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model
