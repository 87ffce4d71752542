"""Batch sentiment scoring of CSV files with an exported ONNX model.

Scoring needs numpy, pandas, pyarrow and onnxruntime, never TensorFlow.
"""

from score.api import FileSummary, RunSummary, ScoringOptions, score_file, score_files
from score.errors import InputError, ModelError, RejectRateExceeded, ScoringError
from score.model import SentimentModel

__all__ = [
    "FileSummary",
    "InputError",
    "ModelError",
    "RejectRateExceeded",
    "RunSummary",
    "ScoringError",
    "ScoringOptions",
    "SentimentModel",
    "score_file",
    "score_files",
]
