"""The metadata an exported model carries, so that the ONNX file alone is the model.

The ONNX `metadata_props` map holds, as strings: the vocabulary one word per line, the
preprocessing settings as JSON, the decision threshold, the training metrics and a record of the
export as JSON. Exporting needs `onnx`; reading needs only onnxruntime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from score.preprocessing import Vocabulary

FORMAT_VERSION = "1"
FORMAT_KEY = "sentiment.format_version"
VOCABULARY_KEY = "sentiment.vocabulary"
PREPROCESSING_KEY = "sentiment.preprocessing"
THRESHOLD_KEY = "sentiment.threshold"
METRICS_KEY = "sentiment.metrics"
EXPORT_KEY = "sentiment.export"
REQUIRED_KEYS = (FORMAT_KEY, VOCABULARY_KEY, PREPROCESSING_KEY, THRESHOLD_KEY)
DEFAULT_THRESHOLD = 0.5


class MetadataError(ValueError):
    """Model metadata that is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class ModelMetadata:
    """Model settings that scoring reads from a model file besides the graph."""

    vocabulary: Vocabulary
    sequence_length: int
    vocabulary_size: int
    architecture: str
    threshold: float
    metrics: dict
    export: dict
    settings: dict


def build(
    vocabulary: Vocabulary,
    settings: dict,
    metrics: dict,
    export: dict,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, str]:
    """Return the metadata entries of an exported model, as strings."""
    return {
        FORMAT_KEY: FORMAT_VERSION,
        VOCABULARY_KEY: "\n".join(vocabulary.words),
        PREPROCESSING_KEY: json.dumps(settings, sort_keys=True),
        THRESHOLD_KEY: repr(float(threshold)),
        METRICS_KEY: json.dumps(metrics, sort_keys=True),
        EXPORT_KEY: json.dumps(export, sort_keys=True),
    }


def parse(entries: dict[str, str]) -> ModelMetadata:
    """Read model metadata entries; raises `MetadataError` naming a missing or invalid key."""
    missing = [key for key in REQUIRED_KEYS if key not in entries]
    if missing:
        raise MetadataError(
            f"model metadata is missing {', '.join(missing)}: "
            "export the model with `python -m export RUN_DIR`"
        )
    if entries[FORMAT_KEY] != FORMAT_VERSION:
        raise MetadataError(
            f"model metadata format {entries[FORMAT_KEY]!r} is not supported "
            f"(this scorer reads {FORMAT_VERSION!r}): export the model again"
        )
    try:
        settings = json.loads(entries[PREPROCESSING_KEY])
        threshold = float(entries[THRESHOLD_KEY])
        metrics = json.loads(entries.get(METRICS_KEY, "{}"))
        export = json.loads(entries.get(EXPORT_KEY, "{}"))
        words = tuple(entries[VOCABULARY_KEY].split("\n"))
        vocabulary = Vocabulary(words)
        sequence_length = int(settings["sequence_length"])
        vocabulary_size = int(settings["vocabulary_size"])
        architecture = str(settings["architecture"])
    except (ValueError, KeyError, TypeError) as error:
        raise MetadataError(
            f"model metadata is invalid ({error}): export the model again"
        ) from error
    if vocabulary.size > vocabulary_size:
        raise MetadataError(
            f"model metadata has {len(words)} words, more than its vocabulary size "
            f"{vocabulary_size} allows: export the model again"
        )
    return ModelMetadata(
        vocabulary=vocabulary,
        sequence_length=sequence_length,
        vocabulary_size=vocabulary_size,
        architecture=architecture,
        threshold=threshold,
        metrics=metrics,
        export=export,
        settings=settings,
    )
