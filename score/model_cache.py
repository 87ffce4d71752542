"""One `SentimentModel` per process and settings, so that workers build each session once.

Dask sends tasks the model's path and checksum, never the onnxruntime session, which cannot be
pickled. The first task in a worker process that requests a model loads it, and the later
tasks in that process reuse it.
"""

from __future__ import annotations

import logging
import threading

from score.errors import ModelError
from score.model import SentimentModel

logger = logging.getLogger(__name__)

_models: dict[tuple, SentimentModel] = {}
_lock = threading.Lock()


def cached_model(path: str | None, checksum: str, threads: int, batch_size: int) -> SentimentModel:
    """Return the model at `path` (None: the shipped one), loading it on first use.

    Raises `ModelError` when the file's SHA-256 differs from `checksum`, as when a worker
    machine has another version of the model at the same path.
    """
    key = (path, checksum, threads, batch_size)
    with _lock:
        model = _models.get(key)
        if model is None:
            model = SentimentModel(path, threads=threads, batch_size=batch_size)
            if model.checksum != checksum:
                raise ModelError(
                    f"model {model.path} has SHA-256 {model.checksum} on this worker but "
                    f"{checksum} on the client: install the same model file on every machine"
                )
            logger.info("loaded model %s with %d onnxruntime threads", model.model_id, threads)
            _models[key] = model
        return model


def loaded_model_count() -> int:
    """Return how many models this process has loaded."""
    return len(_models)
