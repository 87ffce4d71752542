"""Time the scorer's stages one after another in this process: read, preprocess, infer, write."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from score import reader
from score.model import SentimentModel
from score.writer import AtomicCsvWriter


def time_stages(path: Path, output: Path) -> dict[str, float]:
    """Return the seconds spent in each stage when scoring `path` into `output`.

    The command line encodes the next slice while the previous one is scored, so its wall time
    is below the sum of these stages.
    """
    seconds = dict.fromkeys(("load model", "read", "preprocess", "inference", "write"), 0.0)
    started = time.perf_counter()
    model = SentimentModel()
    seconds["load model"] = time.perf_counter() - started
    columns = reader.choose_columns(path, reader.read_header(path, "utf-8", ","), None, None)
    schema = pa.schema([("id", pa.string()), ("score", pa.float32())])
    writer = AtomicCsvWriter(output, schema)
    chunks = reader.read_chunks(path, columns)
    while True:
        started = time.perf_counter()
        batch = next(chunks, None)
        seconds["read"] += time.perf_counter() - started
        if batch is None:
            break
        started = time.perf_counter()
        encoded = model.encode(batch.column(columns.text))
        seconds["preprocess"] += time.perf_counter() - started
        started = time.perf_counter()
        scores = model.score_encoded(encoded)
        seconds["inference"] += time.perf_counter() - started
        started = time.perf_counter()
        table = pa.table([batch.column(columns.id), pa.array(np.asarray(scores))], schema=schema)
        writer.write(table)
        seconds["write"] += time.perf_counter() - started
    started = time.perf_counter()
    writer.commit()
    seconds["write"] += time.perf_counter() - started
    return seconds
