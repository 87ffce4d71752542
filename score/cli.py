"""Command line: `python -m score INPUT.csv [-o OUTPUT.csv] [--model PATH]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from score.errors import EXIT_OK, EXIT_UNEXPECTED, InputError, ScoringError
from score.model import DEFAULT_BATCH_SIZE
from score.reader import DEFAULT_CHUNK_BYTES

logger = logging.getLogger("score")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m score",
        description="Score the reviews in CSV files with an exported ONNX sentiment model.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="CSV files to score")
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="output CSV (default: INPUT.scored.csv)"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="exported .onnx model (default: the shipped one)"
    )
    parser.add_argument(
        "--text-column",
        default=None,
        help="column with the review text (default: review, else text)",
    )
    parser.add_argument(
        "--id-column", default=None, help="column copied to the output as the id (default: id)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="score at or above which the label is positive (default: the model's, 0.5)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="reviews per inference call"
    )
    parser.add_argument(
        "--chunk-bytes", type=int, default=DEFAULT_CHUNK_BYTES, help="bytes of CSV read at a time"
    )
    parser.add_argument("--encoding", default="utf-8", help="input text encoding (default: utf-8)")
    parser.add_argument("--sep", default=",", help="field delimiter (default: comma)")
    parser.add_argument(
        "--threads", type=int, default=None, help="onnxruntime threads (default: available cores)"
    )
    parser.add_argument("--summary", type=Path, default=None, help="write the run summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="log errors only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    add_engine_arguments(parser)
    return parser


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    engine = parser.add_argument_group("Dask engine (pip install '.[dask]')")
    engine.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: score in this process (default); dask: score on a Dask cluster, "
        "with -o naming the output folder",
    )
    engine.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler, such as tcp://HOST:8786 "
        "(default: start a local cluster)",
    )
    engine.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the local Dask cluster (default: available cores)",
    )
    engine.add_argument(
        "--part-bytes",
        type=int,
        default=None,
        help="split input files that have an id column into parts of about this many bytes "
        "(default: 64 MiB)",
    )


def engine_options(arguments: argparse.Namespace) -> dict:
    """Return the keyword arguments that only `score_files_dask` takes, checking their use."""
    options = {
        name: getattr(arguments, name)
        for name in ("scheduler", "workers", "part_bytes")
        if getattr(arguments, name) is not None
    }
    if arguments.engine != "dask" and options:
        flags = ", ".join("--" + name.replace("_", "-") for name in options)
        raise InputError(f"{flags} apply to --engine dask only: add --engine dask")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the scorer and return its exit code."""
    arguments = build_parser().parse_args(argv)
    level = logging.ERROR if arguments.quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )

    from score.api import score_files

    try:
        extra_options = engine_options(arguments)
        if arguments.engine == "dask":
            try:
                from score.dask_engine import score_files_dask as score_files
            except ModuleNotFoundError as error:
                raise InputError(
                    f"--engine dask needs the dask extra ({error}): pip install '.[dask]'"
                ) from error

        summary = score_files(
            arguments.inputs,
            arguments.output,
            model=arguments.model,
            text_column=arguments.text_column,
            id_column=arguments.id_column,
            threshold=arguments.threshold,
            batch_size=arguments.batch_size,
            chunk_bytes=arguments.chunk_bytes,
            encoding=arguments.encoding,
            separator=arguments.sep,
            threads=arguments.threads,
            **extra_options,
        )
    except ScoringError as error:
        logger.error("%s", error, exc_info=arguments.debug)
        return error.exit_code
    except Exception as error:
        logger.error(
            "unexpected error: %s: %s (rerun with --debug for a traceback)",
            type(error).__name__,
            error,
            exc_info=arguments.debug,
        )
        return EXIT_UNEXPECTED
    if arguments.summary is not None:
        arguments.summary.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return EXIT_OK
