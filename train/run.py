"""Train a model, keep its best checkpoint and write the run folder."""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from score import preprocessing
from score.evaluation import classification_metrics
from score.preprocessing import Vocabulary
from train import batches, data, model_card, plots
from train.model import LSTM, MLP, build_model

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "best.keras"
VOCABULARY_NAME = "vocabulary.txt"
PREPROCESSING_NAME = "preprocessing.json"
METRICS_NAME = "metrics.json"
MONITOR = "val_loss"
DEFAULT_UNITS = {LSTM: 128, MLP: 256}
EVALUATION_BATCH = 256
DEFAULT_THRESHOLD = 0.5
PSEUDO_LABEL_MARGIN = 0.05


@dataclass
class TrainConfig:
    """Settings of one training run; the CLI options map one to one onto these fields."""

    data: str
    out: Path
    architecture: str = LSTM
    vocabulary_size: int = 20000
    sequence_length: int = 200
    embedding_dim: int = 128
    units: int | None = None
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.0
    pooling: str = "last"
    bidirectional: bool = False
    token_dropout: float = 0.0
    teacher: str | None = None
    pseudo_label_margin: float = PSEUDO_LABEL_MARGIN
    soft_labels: bool = False
    tune_threshold: bool = False
    pretrain_embeddings: bool = False
    pretrain_epochs: int = 5
    embeddings: str | None = None
    validation_fraction: float = 0.2
    seed: int = 1337
    text_column: str = "review"
    label_column: str = "sentiment"
    threads: int | None = None

    def resolved_units(self) -> int:
        return self.units if self.units is not None else DEFAULT_UNITS[self.architecture]


class RequireMonitoredMetric(keras.callbacks.Callback):
    """Stop training after the first epoch when the checkpoint's metric was not logged.

    Without it, `ModelCheckpoint(save_best_only=True)` only warns and never saves.
    """

    def __init__(self, monitor: str):
        super().__init__()
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0 and self.monitor not in (logs or {}):
            raise RuntimeError(
                f"metric {self.monitor!r} is missing from the epoch logs "
                f"(found: {', '.join(sorted(logs or {}))}): pass validation data"
            )


def library_versions() -> dict[str, str]:
    import onnxruntime
    import pandas
    import pyarrow

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _encode(vocabulary: Vocabulary, reviews: data.Reviews, length: int) -> np.ndarray:
    batch = vocabulary.encode(reviews.texts, length)
    return preprocessing.pad_to_width(batch, length)


def _loss_and_accuracy(
    scores: np.ndarray, labels: np.ndarray, threshold: float
) -> tuple[float, float]:
    """Return the binary cross-entropy, and the accuracy as `python -m score` computes it."""
    targets = np.asarray(labels, dtype=np.float64)
    clipped = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = -np.mean(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    accuracy = classification_metrics(labels, scores, threshold)["accuracy"]
    return float(loss), float(accuracy)


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the threshold from 0.30 to 0.70 (step 0.01) with the best accuracy on `scores`.

    Ties go to the threshold nearest 0.5.
    """
    candidates = np.round(np.arange(0.30, 0.705, 0.01), 2)
    accuracies = [np.mean((scores >= value) == (labels == 1)) for value in candidates]
    best = max(accuracies)
    return float(min(candidates[np.isclose(accuracies, best)], key=lambda value: abs(value - 0.5)))


def _predict(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    if model.name == LSTM:
        return batches.predict(model, ids, EVALUATION_BATCH)
    return model.predict(ids, batch_size=EVALUATION_BATCH, verbose=0).reshape(-1)


def train(config: TrainConfig) -> dict:
    """Train the model described by `config` and return the metrics written to the run folder."""
    started = time.monotonic()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    if config.threads:
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(config.threads)

    dataset = data.load_dataset(config.data, config.text_column, config.label_column)
    train_reviews, validation_reviews = data.split_validation(
        dataset.train, config.validation_fraction, config.seed
    )
    vocabulary = Vocabulary.build(train_reviews.texts, config.vocabulary_size)
    logger.info(
        "%d training, %d validation, %d test reviews; %d vocabulary ids",
        len(train_reviews),
        len(validation_reviews),
        len(dataset.test),
        vocabulary.size,
    )

    (out / VOCABULARY_NAME).write_text("\n".join(vocabulary.words) + "\n", encoding="utf-8")

    length = config.sequence_length
    labelled_texts = train_reviews.texts
    pseudo_labelled = 0
    if config.teacher is not None:
        from train.pseudo_labels import pseudo_label

        # The vocabulary stays that of the labelled reviews, so the teacher's run and this one
        # can share pretrained embeddings.
        extra = pseudo_label(
            config.teacher, dataset.unlabelled, config.pseudo_label_margin, config.soft_labels
        )
        pseudo_labelled = len(extra)
        train_reviews = data.Reviews(
            train_reviews.texts + extra.texts,
            np.concatenate([train_reviews.labels, extra.labels]).astype(extra.labels.dtype),
        )
    x_train = _encode(vocabulary, train_reviews, length)
    x_validation = _encode(vocabulary, validation_reviews, length)
    x_test = _encode(vocabulary, dataset.test, length)

    embedding_matrix = None
    if config.embeddings is not None:
        from train.embeddings import load_embeddings

        embedding_matrix = load_embeddings(
            Path(config.embeddings), vocabulary, config.vocabulary_size, config.embedding_dim
        )
    elif config.pretrain_embeddings:
        from train.embeddings import pretrain_embeddings, save_embeddings

        # Unlabelled and training texts only: the test split never shapes the model.
        embedding_matrix = pretrain_embeddings(
            labelled_texts + validation_reviews.texts + dataset.unlabelled,
            vocabulary,
            config.vocabulary_size,
            config.embedding_dim,
            seed=config.seed,
            epochs=config.pretrain_epochs,
        )
        save_embeddings(out, embedding_matrix)

    model = build_model(
        config.architecture,
        vocabulary_size=config.vocabulary_size,
        sequence_length=length,
        embedding_dim=config.embedding_dim,
        units=config.resolved_units(),
        learning_rate=config.learning_rate,
        dropout=config.dropout,
        embedding_matrix=embedding_matrix,
        pooling=config.pooling,
        bidirectional=config.bidirectional,
        token_dropout=config.token_dropout,
        seed=config.seed,
    )
    if config.architecture == LSTM:
        # The LSTM masks padding, so batches trimmed to their longest review train the same
        # model in less time. The MLP reads a fixed window and takes the padded arrays.
        fit_data = {
            "x": batches.LengthBatches(
                x_train, train_reviews.labels, config.batch_size, config.seed
            ),
            "validation_data": batches.SortedBatches(
                x_validation, validation_reviews.labels, EVALUATION_BATCH
            ),
        }
    else:
        fit_data = {
            "x": x_train,
            "y": train_reviews.labels,
            "validation_data": (x_validation, validation_reviews.labels),
            "batch_size": config.batch_size,
            "shuffle": True,
        }
    checkpoint_path = out / CHECKPOINT_NAME
    history = model.fit(
        **fit_data,
        epochs=config.epochs,
        verbose=2,
        callbacks=[
            RequireMonitoredMetric(MONITOR),
            keras.callbacks.ModelCheckpoint(
                checkpoint_path, monitor=MONITOR, mode="min", save_best_only=True
            ),
        ],
    ).history
    best_epoch = int(np.argmin(history[MONITOR])) + 1

    # The last epoch is not always the best one: evaluate the checkpoint that was kept.
    best = keras.models.load_model(checkpoint_path)
    threshold = DEFAULT_THRESHOLD
    if config.tune_threshold:
        # Chosen on the validation reviews. The test reviews only report the result.
        threshold = choose_threshold(_predict(best, x_validation), validation_reviews.labels)
        logger.info("decision threshold %.2f chosen on the validation reviews", threshold)
    test_scores = _predict(best, x_test)
    test_loss, test_accuracy = _loss_and_accuracy(test_scores, dataset.test.labels, threshold)

    settings = {
        "vocabulary_size": config.vocabulary_size,
        "sequence_length": length,
        "padding": preprocessing.PADDING,
        "truncating": preprocessing.TRUNCATING,
        "padding_id": preprocessing.PADDING_ID,
        "out_of_vocabulary_id": preprocessing.OUT_OF_VOCABULARY_ID,
        "architecture": config.architecture,
        "pooling": config.pooling,
        "bidirectional": config.bidirectional,
    }
    (out / PREPROCESSING_NAME).write_text(json.dumps(settings, indent=2) + "\n")

    metrics = {
        "architecture": config.architecture,
        "units": config.resolved_units(),
        "vocabulary_words": len(vocabulary.words),
        "config": {key: str(value) for key, value in asdict(config).items()},
        "history": {key: [float(v) for v in values] for key, values in history.items()},
        "validation_split": "film" if validation_reviews.films is not None else "label",
        "best_epoch": best_epoch,
        "validation_loss": float(history[MONITOR][best_epoch - 1]),
        "validation_accuracy": float(history["val_accuracy"][best_epoch - 1]),
        "threshold": threshold,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "counts": {
            "train": len(labelled_texts),
            "validation": len(validation_reviews),
            "pseudo_labelled": pseudo_labelled,
            "test": len(dataset.test),
            "unlabelled": (
                len(dataset.unlabelled) if config.pretrain_embeddings or config.teacher else 0
            ),
        },
        "data_source": dataset.source,
        "data_fingerprint": {
            "train": dataset.train.fingerprint(),
            "test": dataset.test.fingerprint(),
        },
        "seed": config.seed,
        "versions": library_versions(),
        "training_seconds": round(time.monotonic() - started, 1),
    }
    (out / METRICS_NAME).write_text(json.dumps(metrics, indent=2) + "\n")
    plots.write_plots(out, history, best_epoch, dataset.test.labels, test_scores, threshold)
    model_card.write(out, metrics)
    logger.info(
        "best epoch %d: validation loss %.4f, test accuracy %.4f; run folder %s",
        best_epoch,
        metrics["validation_loss"],
        test_accuracy,
        out,
    )
    return metrics
