"""An exported sentiment model, loaded into an onnxruntime session."""

from __future__ import annotations

import hashlib
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime

from score import metadata as model_metadata
from score.errors import ModelError
from score.preprocessing import EncodedBatch, pad_to_width

logger = logging.getLogger(__name__)

TOKEN_IDS = "token_ids"
SEQUENCE_LENGTHS = "sequence_lengths"
SCORES = "scores"
# The exported LSTM's working memory grows with batch size times review length. On IMDB test
# reviews (onnxruntime 1.32, 2 cores) batches of 64 peaked at about 270 MiB resident against
# 480 MiB for 256, at the same throughput.
DEFAULT_BATCH_SIZE = 64


def default_model_path() -> Path:
    """Return the path of the model shipped inside the `score` package."""
    return Path(str(resources.files("score") / "models" / "default.onnx"))


def available_cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Not on Linux.
        return os.cpu_count() or 1


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SentimentModel:
    """An ONNX sentiment model with its vocabulary and preprocessing settings.

    `threads` sets onnxruntime's intra-op threads (default: the cores this process may use).
    Reviews are scored in batches of `batch_size`, grouped by length so that short reviews are
    not padded to long ones; a review's score does not depend on the other reviews in its batch
    because the LSTM stops at each review's own length.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        self.path = Path(path) if path is not None else default_model_path()
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size} is invalid: use 1 or more")
        self.batch_size = batch_size
        if not self.path.exists():
            raise ModelError(
                f"model {self.path} not found: pass --model with an exported .onnx file"
            )
        if self.path.is_dir():
            raise ModelError(f"model {self.path} is a folder: pass the .onnx file inside it")

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise ModelError(
                f"model {self.path} could not be loaded by onnxruntime ({first_line}): "
                "pass a model file written by `python -m export`"
            ) from error

        entries = self.session.get_modelmeta().custom_metadata_map
        try:
            self.metadata = model_metadata.parse(entries)
        except model_metadata.MetadataError as error:
            raise ModelError(f"model {self.path}: {error}") from error

        names = {value.name for value in self.session.get_inputs()}
        if TOKEN_IDS not in names:
            raise ModelError(
                f"model {self.path} has no {TOKEN_IDS!r} input "
                f"(found: {', '.join(sorted(names))}): "
                "pass a model file written by `python -m export`"
            )
        self.uses_lengths = SEQUENCE_LENGTHS in names
        self.checksum = file_checksum(self.path)
        self.model_id = f"{self.path.stem}-{self.checksum[:12]}"

    @property
    def vocabulary(self):
        return self.metadata.vocabulary

    @property
    def threshold(self) -> float:
        return self.metadata.threshold

    def encode(self, texts) -> EncodedBatch:
        return self.metadata.vocabulary.encode(texts, self.metadata.sequence_length)

    def score_encoded(self, batch: EncodedBatch) -> np.ndarray:
        """Return the positive-class probability of each encoded review, as float32."""
        rows = len(batch.lengths)
        scores = np.empty(rows, dtype=np.float32)
        if rows == 0:
            return scores
        if not self.uses_lengths:
            ids = pad_to_width(batch, self.metadata.sequence_length)
            for start in range(0, rows, self.batch_size):
                part = slice(start, start + self.batch_size)
                scores[part] = self._run({TOKEN_IDS: ids[part]})
            return scores

        # Sorting by length lets each batch stop at its own longest review.
        order = np.argsort(batch.lengths, kind="stable")
        for start in range(0, rows, self.batch_size):
            chosen = order[start : start + self.batch_size]
            lengths = batch.lengths[chosen]
            ids = np.ascontiguousarray(batch.ids[chosen, : int(lengths.max())])
            scores[chosen] = self._run({TOKEN_IDS: ids, SEQUENCE_LENGTHS: lengths})
        return scores

    def score_texts(self, texts) -> np.ndarray:
        """Return the positive-class probability of each review text."""
        return self.score_encoded(self.encode(texts))

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([SCORES], feed)[0].reshape(-1)
