"""Time the scorer's stages one after another in this process: read, preprocess, infer, write."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from score import reader, sources
from score.chunks import output_schema
from score.model import SentimentModel
from score.reader import CsvRecords, Record
from score.writer import open_writer

CHUNK_SIZE = 5_000


def time_stages(path: Path, output: Path, model_path: Path | None = None) -> dict[str, float]:
    """Return the seconds spent in each stage when scoring `path` into `output`.

    `model_path` is the model to load, the shipped one when None.

    The command line encodes the next slice while the previous one is scored, so its wall time
    is below the sum of these stages.
    """
    seconds = dict.fromkeys(("load model", "read", "preprocess", "inference", "write"), 0.0)
    started = time.perf_counter()
    model = SentimentModel(model_path)
    seconds["load model"] = time.perf_counter() - started

    with sources.open_binary(str(path)) as stream:
        records = CsvRecords(stream, str(path))
        columns = reader.choose_columns(str(path), records.header, None, None)
        schema = output_schema(columns)
        text_index = columns.index(columns.text)
        id_index = columns.index(columns.id) if columns.id else None
        writer = open_writer(str(output), "csv", schema)
        iterator = iter(records)
        finished = False
        while not finished:
            started = time.perf_counter()
            rows = []
            for item in iterator:
                if type(item) is Record:
                    rows.append(item.fields)
                if len(rows) == CHUNK_SIZE:
                    break
            else:
                finished = True
            seconds["read"] += time.perf_counter() - started
            if not rows:
                break

            started = time.perf_counter()
            encoded = model.encode(pa.array([row[text_index] for row in rows], pa.string()))
            seconds["preprocess"] += time.perf_counter() - started

            started = time.perf_counter()
            scores = model.score_encoded(encoded)
            seconds["inference"] += time.perf_counter() - started

            started = time.perf_counter()
            ids = (
                pa.array([row[id_index] for row in rows], pa.string())
                if id_index is not None
                else pa.array(np.arange(len(rows)), pa.int64())
            )
            labels = np.where(scores >= model.threshold, "positive", "negative")
            table = pa.table(
                [ids, pa.array(scores), pa.array(labels), pa.array(["ok"] * len(rows))],
                schema=schema,
            )
            writer.write(table)
            seconds["write"] += time.perf_counter() - started
    started = time.perf_counter()
    writer.commit()
    seconds["write"] += time.perf_counter() - started
    return seconds
