"""The Keras models: the LSTM used by default and the MLP baseline."""

from __future__ import annotations

import keras
import numpy as np

from score.preprocessing import OUT_OF_VOCABULARY_ID, PADDING_ID

LSTM = "lstm"
MLP = "mlp"
ARCHITECTURES = (LSTM, MLP)

# Pooling of the LSTM's outputs into one vector per review: its state after the last real token,
# the mean of its outputs over the real tokens, or their maximum per unit.
LAST = "last"
MEAN = "mean"
MAX = "max"
POOLINGS = (LAST, MEAN, MAX)
# Replaces the outputs at padded steps before the maximum. LSTM outputs lie in (-1, 1).
MASKED_OUTPUT = -1e4


@keras.saving.register_keras_serializable(package="sentiment")
class MaskedMaxPooling1D(keras.layers.Layer):
    """Maximum of each feature over the time steps that the mask keeps.

    Keras' `GlobalMaxPooling1D` ignores the mask, so a review's padding would take part in
    its maximum and its score would depend on how far it was padded.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            keep = keras.ops.expand_dims(keras.ops.cast(mask, "bool"), -1)
            inputs = keras.ops.where(keep, inputs, MASKED_OUTPUT)
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="sentiment")
class TokenDropout(keras.layers.Layer):
    """Replace each real token by the out-of-vocabulary id with probability `rate` in training.

    At inference the ids pass through unchanged. A model that cannot count on any single word
    reads more of each review, instead of remembering the names and titles of the films it was
    trained on.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        draws = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator)
        dropped = keras.ops.logical_and(draws < self.rate, inputs != PADDING_ID)
        return keras.ops.where(dropped, OUT_OF_VOCABULARY_ID, inputs)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="sentiment")
def accuracy(y_true, y_pred):
    """Return 1.0 for each review whose predicted label matches its rounded target, else 0.0.

    Keras' binary accuracy compares a soft target such as 0.93 with the predicted label 1 and
    counts a miss, so it reads near zero when the targets are a teacher's scores.
    """
    targets = keras.ops.reshape(keras.ops.cast(y_true, "float32") >= 0.5, (-1,))
    predictions = keras.ops.reshape(y_pred >= 0.5, (-1,))
    # One value per review: Keras then weights each batch by its size, as a mean must.
    return keras.ops.cast(keras.ops.equal(targets, predictions), "float32")


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
    bidirectional: bool = False,
    token_dropout: float = 0.0,
    seed: int | None = None,
) -> keras.Model:
    """Build and compile a binary sentiment classifier over token ids.

    The LSTM masks the padding id 0, so a review's score depends only on its real tokens and
    the exported model can be run on batches padded to any width. `dropout` is the LSTM's input
    dropout during training; it changes nothing at inference. `mask_padding=False` builds the
    LSTM without its mask, for export only. `embedding_matrix`, of shape (vocabulary_size,
    embedding_dim), gives the embedding's starting weights. `pooling` is `last` (the LSTM's
    final state), `mean` (its outputs averaged over the real tokens) or `max` (their maximum per
    unit). `bidirectional` adds a second LSTM of `units` that reads each review from its end;
    the two directions' outputs are concatenated. The MLP flattens a fixed window of
    `sequence_length` tokens, padding included. `token_dropout` is the share of tokens replaced
    by the out-of-vocabulary id during training (see `TokenDropout`), drawn from `seed`.
    """
    initializer = "uniform"
    if embedding_matrix is not None:
        initializer = keras.initializers.Constant(embedding_matrix)
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r} is unknown: use one of {POOLINGS}")
    if architecture == LSTM:
        lstm = keras.layers.LSTM(units, dropout=dropout, return_sequences=pooling != LAST)
        if bidirectional:
            if pooling == LAST:
                raise ValueError("a bidirectional LSTM needs mean or max pooling, not last")
            lstm = keras.layers.Bidirectional(lstm)
        recurrent = [lstm]
        if pooling == MEAN:
            recurrent.append(keras.layers.GlobalAveragePooling1D())
        elif pooling == MAX:
            recurrent.append(MaskedMaxPooling1D())
        model = keras.Sequential(
            [
                keras.Input(shape=(None,), dtype="int32", name="token_ids"),
                *([TokenDropout(token_dropout, seed=seed)] if token_dropout else []),
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
        metrics=[accuracy],
    )
    return model
