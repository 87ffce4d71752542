"""Command line: `python -m train --data PATH --out RUN_DIR`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from train.data import DataError
from train.model import ARCHITECTURES, LAST, LSTM, POOLINGS
from train.run import PSEUDO_LABEL_MARGIN, TrainConfig


def parse_arguments(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train a sentiment model on labelled reviews and write a run folder.",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="aclImdb folder, CSV file with a split column, folder with train.csv and "
        "test.csv, or 'keras' for the Keras copy of IMDB (downloaded if not cached)",
    )
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--arch", dest="architecture", choices=ARCHITECTURES, default=LSTM)
    parser.add_argument(
        "--vocabulary-size", type=int, default=20000, help="token ids, reserved included"
    )
    parser.add_argument("--sequence-length", type=int, default=200, help="tokens kept per review")
    parser.add_argument("--embedding-dim", type=int, default=128, help="embedding width")
    parser.add_argument(
        "--units", type=int, default=None, help="LSTM units (default 128) or MLP hidden units (256)"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="reviews per training step")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="LSTM input dropout rate during training"
    )
    parser.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=LAST,
        help="LSTM summary of a review: final state, or mean or maximum of outputs over its tokens",
    )
    parser.add_argument(
        "--bidirectional",
        action="store_true",
        help="add an LSTM that reads each review backwards (needs --pooling mean or max)",
    )
    parser.add_argument(
        "--token-dropout",
        type=float,
        default=0.0,
        help="share of tokens replaced by the out-of-vocabulary id during training",
    )
    parser.add_argument(
        "--pretrain-embeddings",
        action="store_true",
        help="start the embedding from word2vec vectors learnt on the training and unlabelled "
        "reviews (needs gensim)",
    )
    parser.add_argument(
        "--pretrain-epochs", type=int, default=5, help="word2vec passes over the texts"
    )
    parser.add_argument(
        "--embeddings",
        default=None,
        help="embeddings.npy of an earlier run with the same data, seed and vocabulary size, "
        "to reuse its pretrained word vectors",
    )
    parser.add_argument(
        "--teacher",
        default=None,
        help="exported .onnx model that labels the unlabelled reviews; its surest verdicts "
        "join the training reviews (self-training)",
    )
    parser.add_argument(
        "--pseudo-label-margin",
        type=float,
        default=PSEUDO_LABEL_MARGIN,
        help="keep the teacher's verdicts with a score this close to 0 or 1 (default 0.05)",
    )
    parser.add_argument(
        "--soft-labels",
        action="store_true",
        help="with --teacher, add every unlabelled review with the teacher's score as its target "
        "(distillation) instead of its surest verdicts",
    )
    parser.add_argument(
        "--tune-threshold",
        action="store_true",
        help="choose the decision threshold (0.30 to 0.70) with the best validation accuracy "
        "instead of 0.5; the exported model carries it",
    )
    parser.add_argument(
        "--validation-fraction", type=float, default=0.2, help="share of training reviews held out"
    )
    parser.add_argument("--seed", type=int, default=1337, help="seed of every random choice")
    parser.add_argument("--text-column", default="review", help="CSV column with the text")
    parser.add_argument(
        "--label-column", default="sentiment", help="CSV column with 0/1 or pos/neg"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="TensorFlow threads (default: all)"
    )
    arguments = vars(parser.parse_args(argv))
    if arguments["teacher"] is None and (
        arguments["soft_labels"] or arguments["pseudo_label_margin"] != PSEUDO_LABEL_MARGIN
    ):
        parser.error("--soft-labels and --pseudo-label-margin need --teacher; add it")
    if arguments["bidirectional"] and arguments["pooling"] == LAST:
        parser.error("--bidirectional needs --pooling mean or max; add one of them")
    return TrainConfig(**arguments)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = parse_arguments(argv)
    from train.run import train

    try:
        train(config)
    except DataError as error:
        logging.getLogger("train").error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
