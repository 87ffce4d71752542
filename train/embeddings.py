"""Word vectors pretrained on unlabelled reviews, to start the embedding layer from.

Word2vec (gensim, skip-gram) learns from the training reviews and the unlabelled aclImdb
reviews; the test reviews are never used. One worker thread and a fixed hash function make the
vectors depend only on the texts and the seed.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from score.preprocessing import RESERVED_IDS, Vocabulary, tokenize
from train.data import DataError

logger = logging.getLogger(__name__)

TOKENIZE_BATCH = 5000
EMBEDDINGS_NAME = "embeddings.npy"
VOCABULARY_NAME = "vocabulary.txt"


class EmbeddingsError(DataError):
    """Saved embeddings that do not fit the run; the message names the file and the fix."""


def _stable_hash(text: str) -> int:
    # gensim seeds each word's starting vector from this hash; Python's own hash() of a string
    # changes between processes unless PYTHONHASHSEED is set.
    return zlib.crc32(text.encode("utf-8"))


class _TokenizedCorpus:
    """The texts as lists of tokens, tokenised once and iterated once per word2vec epoch."""

    def __init__(self, texts: Sequence[str]):
        self.sentences: list[list[str]] = []
        for start in range(0, len(texts), TOKENIZE_BATCH):
            tokens = tokenize(pa.array(texts[start : start + TOKENIZE_BATCH], pa.string()))
            words = tokens.values.to_pylist()
            offsets = np.concatenate([[0], np.cumsum(tokens.counts)])
            self.sentences.extend(
                words[offsets[i] : offsets[i + 1]] for i in range(len(tokens.counts))
            )

    def __iter__(self) -> Iterator[list[str]]:
        return iter(self.sentences)


def pretrain_embeddings(
    texts: Sequence[str],
    vocabulary: Vocabulary,
    vocabulary_size: int,
    dimension: int,
    seed: int,
    epochs: int = 5,
    window: int = 5,
) -> np.ndarray:
    """Return a (vocabulary_size, dimension) matrix of word2vec vectors for the vocabulary ids.

    Ids without a vector (padding, out-of-vocabulary, words word2vec dropped) get small random
    vectors. The word2vec vectors are rescaled to the standard deviation of those random ones.
    """
    from gensim.models import Word2Vec

    corpus = _TokenizedCorpus(texts)
    logger.info("pretraining %d-dimensional word vectors on %d texts", dimension, len(texts))
    model = Word2Vec(
        sentences=corpus,
        vector_size=dimension,
        window=window,
        min_count=2,
        sg=1,
        negative=5,
        sample=1e-4,
        workers=1,
        seed=seed,
        epochs=epochs,
        hashfxn=_stable_hash,
    )
    generator = np.random.default_rng(seed)
    matrix = generator.uniform(-0.05, 0.05, (vocabulary_size, dimension)).astype(np.float32)
    vectors = model.wv
    scale = float(matrix.std()) / max(float(vectors.vectors.std()), 1e-12)
    found = 0
    for offset, word in enumerate(vocabulary.words):
        if word in vectors.key_to_index:
            matrix[RESERVED_IDS + offset] = vectors[word] * scale
            found += 1
    logger.info("word vectors found for %d of %d vocabulary words", found, len(vocabulary.words))
    return matrix


def save_embeddings(out: Path, matrix: np.ndarray) -> Path:
    """Save the pretrained matrix in the run folder, beside the vocabulary it indexes."""
    path = out / EMBEDDINGS_NAME
    np.save(path, matrix)
    return path


def load_embeddings(
    path: Path, vocabulary: Vocabulary, vocabulary_size: int, dimension: int
) -> np.ndarray:
    """Load a matrix saved by an earlier run, checking that its vocabulary is this run's."""
    if not path.is_file():
        raise EmbeddingsError(f"embeddings {path} not found: pass the embeddings.npy of a run")
    saved_words = (path.parent / VOCABULARY_NAME).read_text(encoding="utf-8").split("\n")
    if tuple(word for word in saved_words if word) != vocabulary.words:
        raise EmbeddingsError(
            f"embeddings {path} index another vocabulary than this run's: train with the same "
            "data, seed and vocabulary size, or use --pretrain-embeddings"
        )
    matrix = np.load(path)
    if matrix.shape != (vocabulary_size, dimension):
        raise EmbeddingsError(
            f"embeddings {path} have shape {matrix.shape}, expected "
            f"{(vocabulary_size, dimension)}: match --vocabulary-size and --embedding-dim"
        )
    return matrix.astype(np.float32)
