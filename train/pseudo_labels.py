"""Label unlabelled reviews with an exported model, to add its surest verdicts to training.

Self-training: a first model (the teacher) scores the unlabelled aclImdb reviews, and the
reviews it is surest about join the labelled training reviews of the next model with the
teacher's verdict as their label. The unlabelled reviews are about other films than the
labelled ones, so the next model trains on reviews of more films. The same number of reviews
is taken for each label, the surest first, so a teacher that leans to one side does not pass
that lean on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from score.errors import ModelError
from score.model import SentimentModel
from train.data import DataError, Reviews

logger = logging.getLogger(__name__)


def pseudo_label(
    teacher: str | Path, texts: list[str], margin: float, soft: bool = False
) -> Reviews:
    """Return the `texts` that `teacher` scores within `margin` of 0 or 1, with its labels.

    With `soft`, every text is returned, labelled with the teacher's score itself.
    """
    if not 0 < margin < 0.5:
        raise DataError(f"pseudo-label margin {margin} is invalid: use a value between 0 and 0.5")
    if not texts:
        raise DataError(
            "--teacher needs unlabelled reviews: use an aclImdb folder with train/unsup"
        )
    if not Path(teacher).is_file():
        raise DataError(
            f"teacher model {teacher} not found: pass an .onnx file from python -m export"
        )
    try:
        scores = SentimentModel(teacher).score_texts(texts)
    except ModelError as error:
        raise DataError(f"--teacher: {error}") from error
    if soft:
        logger.info("teacher %s scores %d unlabelled reviews", teacher, len(texts))
        return Reviews(list(texts), scores.astype(np.float32))
    negatives = np.flatnonzero(scores <= margin)
    positives = np.flatnonzero(scores >= 1 - margin)
    count = min(len(negatives), len(positives))
    negatives = negatives[np.argsort(scores[negatives], kind="stable")][:count]
    positives = positives[np.argsort(-scores[positives], kind="stable")][:count]
    rows = np.sort(np.concatenate([negatives, positives]))
    if count == 0:
        logger.warning(
            "teacher %s scores no unlabelled review within %.2f of both 0 and 1: training "
            "goes on without pseudo-labels; raise --pseudo-label-margin or use --soft-labels",
            teacher,
            margin,
        )
    logger.info(
        "teacher %s labels %d of %d unlabelled reviews (%d of each label, margin %.2f)",
        teacher,
        len(rows),
        len(texts),
        count,
        margin,
    )
    labels = (scores[rows] >= 0.5).astype(np.int32)
    return Reviews([texts[index] for index in rows], labels)
