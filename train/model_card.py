"""A Markdown model card for a training run, written from its metrics."""

from __future__ import annotations

from pathlib import Path

from train import plots

MODEL_CARD_NAME = "MODEL_CARD.md"


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def render(metrics: dict) -> str:
    """Return the model card of a run as Markdown."""
    config = metrics["config"]
    counts = metrics["counts"]
    architecture = metrics["architecture"]
    if architecture == "lstm":
        recurrent = f"LSTM({metrics['units']}, input dropout {config['dropout']})"
        if config.get("bidirectional") == "True":
            recurrent = f"Bidirectional({recurrent}, outputs concatenated)"
        pooling = {
            "last": "",
            "mean": " -> mean over the tokens",
            "max": " -> maximum over the tokens",
        }[config.get("pooling", "last")]
        token_dropout = float(config.get("token_dropout", 0))
        dropped = f"TokenDropout({token_dropout}, training only) -> " if token_dropout else ""
        layers = (
            f"{dropped}Embedding({config['vocabulary_size']}, {config['embedding_dim']}, "
            f"padding masked) -> {recurrent}{pooling} -> Dense(1, sigmoid)"
        )
    else:
        layers = (
            f"Embedding({config['vocabulary_size']}, {config['embedding_dim']}) -> Flatten"
            f" -> Dense({metrics['units']}, relu) -> Dense(1, sigmoid)"
        )
    if config.get("pretrain_embeddings") == "True":
        pretraining = (
            "word2vec skip-gram vectors learnt on the texts of the "
            f"{counts['train'] + counts['validation']:,} training and validation reviews and the "
            f"{counts['unlabelled']:,} unlabelled reviews, without their labels"
        )
    elif config.get("embeddings", "None") != "None":
        pretraining = f"the word vectors of `{config['embeddings']}`, from an earlier run"
    else:
        pretraining = "none (random start)"
    teacher = ""
    if counts.get("pseudo_labelled") and config.get("soft_labels") == "True":
        teacher = (
            f"\n- Distillation: {counts['pseudo_labelled']:,} unlabelled reviews joined the "
            f"training reviews with the score of the model `{config['teacher']}` as their target."
        )
    elif counts.get("pseudo_labelled"):
        teacher = (
            f"\n- Self-training: {counts['pseudo_labelled']:,} unlabelled reviews joined the "
            f"training reviews with the label that the model `{config['teacher']}` gave them "
            f"(score within {config['pseudo_label_margin']} of 0 or 1, as many of each label)."
        )
    split = (
        "shuffled split by film, so that no film has reviews on both sides, as between the "
        "training and test sets"
        if metrics.get("validation_split") == "film"
        else "stratified shuffled split"
    )
    words = metrics.get("vocabulary_words", int(config["vocabulary_size"]) - 2)
    threshold = metrics.get("threshold", 0.5)
    threshold_text = (
        f"{threshold:.2f}, the threshold with the best validation accuracy"
        if threshold != 0.5
        else "0.5"
    )
    history = metrics["history"]
    rows = "\n".join(
        f"| {epoch} | {history['loss'][epoch - 1]:.4f} | {history['accuracy'][epoch - 1]:.4f} "
        f"| {history['val_loss'][epoch - 1]:.4f} | {history['val_accuracy'][epoch - 1]:.4f} |"
        for epoch in range(1, len(history["loss"]) + 1)
    )
    versions = ", ".join(f"{name} {version}" for name, version in metrics["versions"].items())
    return f"""# Model card: {architecture.upper()} sentiment classifier

Binary sentiment classifier for English movie reviews. It returns the probability that a review
is positive; the label is `positive` at or above {threshold_text}.

## Data

- Source: `{metrics["data_source"]}`.
- {counts["train"]:,} training and {counts["validation"]:,} validation reviews: the labelled
  training set in a {split} (seed {metrics["seed"]}).
- {counts["test"]:,} test reviews, used only for the figures below, never for training or model
  selection.{teacher}
- SHA-256 of the training and test texts with labels: `{metrics["data_fingerprint"]["train"]}`
  and `{metrics["data_fingerprint"]["test"]}`.

## Preprocessing

Defined once in `score/preprocessing.py` and stored in the exported model: lower-casing, HTML
line breaks removed, apostrophes deleted, tokens split on anything that is not a letter or a
digit, the {words:,} most frequent training tokens as the vocabulary
(ids 0 and 1 are padding and out-of-vocabulary), the last {config["sequence_length"]} tokens of
each review kept.

## Architecture and training

- {layers}.
- Embedding start: {pretraining}.
- Adam, learning rate {config["learning_rate"]}, binary cross-entropy, batch
  {config["batch_size"]}, {config["epochs"]} epochs; the checkpoint with the lowest validation
  loss (epoch {metrics["best_epoch"]}) is kept.
- Library versions: {versions}.

| epoch | loss | accuracy | validation loss | validation accuracy |
| --- | --- | --- | --- | --- |
{rows}

## Results on the test reviews

| metric | value |
| --- | --- |
| accuracy | {_percent(metrics["test_accuracy"])} |
| loss | {metrics["test_loss"]:.4f} |

![learning curves]({plots.LEARNING_CURVES_NAME})
![confusion matrix]({plots.CONFUSION_MATRIX_NAME})
![calibration]({plots.CALIBRATION_NAME})

## Intended use and limits

- Intended for batch scoring of English movie reviews, to rank or filter them by sentiment.
- English only: other languages mostly map to the out-of-vocabulary id.
- Trained on IMDB reviews rated 1-4 or 7-10: neutral reviews are absent from the training data,
  so a mixed review gets an unpredictable score rather than one near 0.5.
- Scores are not calibrated probabilities: the calibration plot shows how far they are from the
  observed share of positive reviews.
- Only the last {config["sequence_length"]} tokens of a review are read.
- Short texts unlike IMDB reviews (one-liners, product snippets) are scored less accurately.
"""


def write(out: Path, metrics: dict) -> Path:
    """Write the model card of a run into `out` and return its path."""
    path = out / MODEL_CARD_NAME
    path.write_text(render(metrics), encoding="utf-8")
    return path
