"""Input files of the benchmark: IMDB test reviews when given, generated reviews otherwise."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Words of the generated reviews, written for this benchmark; sentiment does not matter here.
WORDS = (
    "the a film movie plot acting actor actress scene story camera director script it was and "
    "but not very quite really good bad great awful boring moving funny slow long short music "
    "ending character characters time watch watched again never ever best worst i you they this "
    "that with of in on for to as at by from better than most least more less dialogue"
).split()
# Word counts of the generated reviews: lognormal with a median of 174 and a mean of about
# 230 words, close to the IMDB test reviews (median 172, mean 229 words split on spaces).
MEDIAN_WORDS = 174
LOG_SPREAD = 0.72


def read_imdb(path: Path) -> list[str]:
    """Return the review texts of a CSV file with a `review` column or an aclImdb split folder."""
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as file:
            return [row["review"] for row in csv.DictReader(file)]
    texts = []
    for label in ("neg", "pos"):
        texts += [
            file.read_text(encoding="utf-8", errors="replace")
            for file in sorted((path / label).glob("*.txt"))
        ]
    if not texts:
        raise FileNotFoundError(
            f"no reviews in {path}: pass a CSV file with a review column or an aclImdb split "
            "folder with pos/ and neg/"
        )
    return texts


def generate_reviews(count: int, seed: int, words: int | None = None) -> list[str]:
    """Generate `count` reviews of `words` words each, or of IMDB-like lengths when None."""
    generator = np.random.default_rng(seed)
    if words is None:
        lengths = generator.lognormal(np.log(MEDIAN_WORDS), LOG_SPREAD, count).astype(int) + 4
    else:
        lengths = np.full(count, words)
    vocabulary = np.array(WORDS)
    stream = vocabulary[generator.integers(0, len(vocabulary), int(lengths.sum()))]
    ends = np.cumsum(lengths)
    return [
        " ".join(stream[end - length : end]).capitalize() + "."
        for end, length in zip(ends, lengths, strict=True)
    ]


def write_reviews(path: Path, texts: list[str], rows: int | None = None) -> Path:
    """Write `rows` reviews (default: all), repeating `texts` as needed, as `id,review`."""
    rows = len(texts) if rows is None else rows
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "review"])
        for index in range(rows):
            writer.writerow([f"r{index}", texts[index % len(texts)]])
    logger.info("wrote %d reviews to %s", rows, path)
    return path
