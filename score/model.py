"""An exported sentiment model, loaded into an onnxruntime session."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime

from score import metadata as model_metadata
from score.errors import ModelError
from score.preprocessing import ENCODE_SLICE_ROWS, EncodedBatch, as_string_array, pad_to_width

logger = logging.getLogger(__name__)

TOKEN_IDS = "token_ids"
SEQUENCE_LENGTHS = "sequence_lengths"
SCORES = "scores"
# Reviews per inference call. onnxruntime's LSTM first multiplies the inputs of all time steps
# of a call at once, so a call needs batch x steps x 4 x hidden floats (6.5 MB at 16 reviews of
# 200 tokens). Its memory arena grows faster than that. Batches of 16 took the least CPU time
# and memory per review in docs/benchmarks.md.
DEFAULT_BATCH_SIZE = 16
# Tokens per inference call (rows x longest review). A model that reads up to 400 tokens scores
# its longest reviews 8 at a time, so a call needs no more memory than 16 reviews of 200.
MAX_BATCH_TOKENS = 16 * 200


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

    `threads` sets how many inference calls run at once (default: the cores this process may
    use); each call runs on one onnxruntime thread. Reviews are scored in batches of
    `batch_size`, grouped by length so that short reviews are not padded to long ones. A review's
    score does not depend on the other reviews in its batch, because the LSTM stops at each
    review's own length and an int8 model is exported with fixed quantisation ranges.
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
        if threads is not None and threads < 1:
            raise ValueError(f"thread count {threads} is invalid: use 1 or more")
        self.batch_size = batch_size
        self.threads = threads or available_cores()
        if not self.path.exists():
            raise ModelError(
                f"model {self.path} not found: pass --model with an exported .onnx file"
            )
        if self.path.is_dir():
            raise ModelError(f"model {self.path} is a folder: pass the .onnx file inside it")

        self.session = self._load_session()
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
        self._pool: ThreadPoolExecutor | None = None

    def _load_session(self) -> onnxruntime.InferenceSession:
        # Parallel calls on separate batches, one thread each, scaled better than onnxruntime's
        # intra-op threads on small LSTM batches, and they never spin-wait on a shared machine.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            return onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise ModelError(
                f"model {self.path} could not be loaded by onnxruntime ({first_line}): "
                "pass a model file written by `python -m export`"
            ) from error

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
        scores = np.empty(len(batch.lengths), dtype=np.float32)
        for chosen, part_scores in self._score_parts(batch):
            scores[chosen] = part_scores.result()
        return scores

    def score_texts(self, texts) -> np.ndarray:
        """Return the positive-class probability of each review text.

        Texts are encoded `ENCODE_SLICE_ROWS` at a time, and the next slice is encoded while
        the inference threads score the previous ones.
        """
        array = as_string_array(texts)
        scores = np.empty(len(array), dtype=np.float32)
        pending = []
        encoding_seconds = 0.0
        started = time.perf_counter()
        for start in range(0, len(array), ENCODE_SLICE_ROWS):
            encoding_started = time.perf_counter()
            encoded = self.encode(array.slice(start, ENCODE_SLICE_ROWS))
            encoding_seconds += time.perf_counter() - encoding_started
            pending += [(chosen + start, part) for chosen, part in self._score_parts(encoded)]
        for chosen, part_scores in pending:
            scores[chosen] = part_scores.result()
        logger.debug(
            "%d reviews in %.3f s, of which %.3f s preprocessing",
            len(scores),
            time.perf_counter() - started,
            encoding_seconds,
        )
        return scores

    def _score_parts(self, batch: EncodedBatch) -> list[tuple[np.ndarray, Future]]:
        """Start scoring `batch` in parts of `batch_size`; return each part's rows and future."""
        rows = len(batch.lengths)
        if self.uses_lengths:
            # Sorting by length lets each part stop at its own longest review.
            order = np.argsort(batch.lengths, kind="stable")
            ids = batch.ids
        else:
            order = np.arange(rows)
            ids = pad_to_width(batch, self.metadata.sequence_length)
        parts = []
        # A model without lengths reads every review at the full width: only `batch_size` counts.
        budget = MAX_BATCH_TOKENS if self.uses_lengths else self.batch_size * ids.shape[1]
        for start, end in _part_bounds(batch.lengths[order], self.batch_size, budget):
            chosen = order[start:end]
            chosen_ids = ids[chosen]
            chosen_lengths = batch.lengths[chosen]
            if self.threads == 1:
                future: Future = Future()
                future.set_result(self.run_batch(chosen_ids, chosen_lengths))
            else:
                future = self._executor().submit(self.run_batch, chosen_ids, chosen_lengths)
            parts.append((chosen, future))
        return parts

    def run_batch(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Score one batch in one onnxruntime call, trimmed to its longest review."""
        if not self.uses_lengths:
            return self._run({TOKEN_IDS: np.ascontiguousarray(ids)})
        width = int(lengths.max())
        feed = {TOKEN_IDS: np.ascontiguousarray(ids[:, :width]), SEQUENCE_LENGTHS: lengths}
        return self._run(feed)

    def _executor(self) -> ThreadPoolExecutor:
        # onnxruntime releases the GIL while it runs, so the calls proceed in parallel.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="inference")
        return self._pool

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([SCORES], feed)[0].reshape(-1)


def _part_bounds(lengths: np.ndarray, rows: int, max_tokens: int) -> list[tuple[int, int]]:
    """Return (start, end) bounds that cut reviews of ascending `lengths` into parts.

    A part has at most `rows` reviews, and its padded size (reviews x longest length) stays
    within `max_tokens`. A single review longer than that budget gets a part of its own.
    """
    bounds = []
    start = 0
    while start < len(lengths):
        end = start + 1
        while (
            end < len(lengths)
            and end - start < rows
            and (end - start + 1) * int(lengths[end]) <= max_tokens
        ):
            end += 1
        bounds.append((start, end))
        start = end
    return bounds
