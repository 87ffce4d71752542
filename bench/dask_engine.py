"""Time the Dask engine on a local cluster against the single-process scorer, same inputs.

    python -m bench.dask_engine [--files 8] [--rows 20000] [--workers N] [--part-bytes N]

Generates `--files` CSV files of `--rows` reviews each in a temporary folder. Scores them once
with `score_files` in this process (onnxruntime on every core), then once with
`score_files_dask` on a `LocalCluster` of `--workers` single-threaded processes started
beforehand. Prints one Markdown table row per engine, with the cluster start-up timed apart.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from distributed import LocalCluster

from score import score_files
from score.dask_engine import DEFAULT_PART_BYTES, score_files_dask
from score.model import available_cores

WORDS = (
    "the film was a story of love and loss with great acting a dull plot some superb scenes "
    "and an awful ending that I found boring but the music was wonderful"
).split()


def write_inputs(folder: Path, files: int, rows: int) -> list[Path]:
    generator = np.random.default_rng(0)
    paths = []
    for number in range(files):
        lengths = generator.integers(20, 230, rows)
        reviews = [" ".join(generator.choice(WORDS, length)) for length in lengths]
        frame = pd.DataFrame({"id": [f"f{number}-{row}" for row in range(rows)], "review": reviews})
        paths.append(folder / f"reviews{number}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8, help="input files")
    parser.add_argument("--rows", type=int, default=20000, help="reviews per file")
    parser.add_argument("--workers", type=int, default=available_cores(), help="Dask workers")
    parser.add_argument(
        "--part-bytes",
        type=int,
        default=DEFAULT_PART_BYTES,
        help="split files larger than this many bytes into parts (default: 64 MiB)",
    )
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        paths = write_inputs(folder, arguments.files, arguments.rows)
        rows = arguments.files * arguments.rows

        single_folder = folder / "single"
        dask_folder = folder / "dask"
        single_folder.mkdir()
        dask_folder.mkdir()

        started = time.perf_counter()
        score_files(paths, single_folder)
        single_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with LocalCluster(
            n_workers=arguments.workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster:
            startup_seconds = time.perf_counter() - started
            started = time.perf_counter()
            score_files_dask(
                paths,
                dask_folder,
                scheduler=cluster.scheduler_address,
                part_bytes=arguments.part_bytes,
            )
            dask_seconds = time.perf_counter() - started

    print("| engine | files x rows | seconds | rows/s |")
    print("| --- | --- | --- | --- |")
    shape = f"{arguments.files} x {arguments.rows}"
    print(f"| single process | {shape} | {single_seconds:.1f} | {rows / single_seconds:,.0f} |")
    print(
        f"| dask, {arguments.workers} workers (+{startup_seconds:.1f} s cluster start) | {shape} "
        f"| {dask_seconds:.1f} | {rows / dask_seconds:,.0f} |"
    )


if __name__ == "__main__":
    main()
