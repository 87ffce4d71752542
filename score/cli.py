"""Command line: `python -m score INPUT... [-o OUTPUT] [--model PATH]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from score.api import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_REJECT_RATE, score_files
from score.errors import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    InputError,
    OutputClosed,
    ScoringError,
)
from score.evaluation import format_metrics
from score.model import DEFAULT_BATCH_SIZE
from score.progress import DEFAULT_PROGRESS_SECONDS, TerminalProgress

logger = logging.getLogger("score")
# The exit code of a process ended by SIGTERM, as shells report it.
EXIT_TERMINATED = 128 + signal.SIGTERM


def _positive_integer(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is invalid: use 1 or more")
    return value


def _separator(text: str) -> str:
    return "\t" if text in ("\\t", "tab") else text


def _column_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m score",
        description="Score the reviews in CSV files with an exported ONNX sentiment model.",
    )
    files = parser.add_argument_group("files")
    files.add_argument(
        "inputs",
        nargs="+",
        help="CSV files (.csv, .csv.gz, .csv.zst), folders, glob patterns, or - for standard input",
    )
    files.add_argument(
        "-o",
        "--output",
        default=None,
        help="output file (.csv, .csv.gz, .parquet, .jsonl), - for CSV on standard output, or "
        "an existing folder; required to be a folder with several inputs "
        "(default: INPUT.scored.csv beside each input)",
    )
    files.add_argument(
        "--output-format",
        default="csv",
        choices=["csv", "csv.gz", "parquet", "jsonl"],
        help="format of outputs named by the scorer, in a folder or beside the inputs "
        "(default: csv)",
    )
    files.add_argument(
        "--rejects",
        default=None,
        help="file for malformed records, one input only (default: OUTPUT.rejects.csv beside "
        "the output; logged only when the output is standard output)",
    )
    files.add_argument("--summary", default=None, help="write the run summary as JSON to this file")

    reading = parser.add_argument_group("reading")
    reading.add_argument(
        "--encoding",
        default="utf-8",
        help="input text encoding; UTF-8 may start with a byte-order mark (default: utf-8)",
    )
    reading.add_argument(
        "--sep",
        type=_separator,
        default=",",
        help="field delimiter, one character; \\t or tab for a tab (default: comma)",
    )
    reading.add_argument(
        "--text-column",
        default=None,
        help="column with the review text (default: review, else text)",
    )
    reading.add_argument(
        "--id-column", default=None, help="column copied to the output as the id (default: id)"
    )
    reading.add_argument(
        "--keep-columns",
        type=_column_list,
        default=[],
        help="comma-separated input columns copied to the output after the id",
    )
    reading.add_argument(
        "--label-column",
        default=None,
        help="column with true labels (1/0, pos/neg, positive/negative, true/false): evaluate "
        "the model and print accuracy, precision, recall, F1, ROC AUC and the confusion matrix",
    )
    reading.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"records read, scored and written at a time (default: {DEFAULT_CHUNK_SIZE})",
    )
    reading.add_argument(
        "--max-reject-rate",
        type=float,
        default=DEFAULT_MAX_REJECT_RATE,
        help="largest fraction of malformed records a file may have before the run fails with "
        f"exit code 4 (default: {DEFAULT_MAX_REJECT_RATE}, that is 1%%)",
    )

    scoring = parser.add_argument_group("scoring")
    scoring.add_argument(
        "--model", default=None, help="exported .onnx model (default: the shipped one)"
    )
    scoring.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="score at or above which the label is positive (default: the model's, 0.5)",
    )
    scoring.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"reviews per inference call (default: {DEFAULT_BATCH_SIZE})",
    )
    scoring.add_argument(
        "--threads",
        type=_positive_integer,
        default=None,
        help="inference calls run in parallel, one onnxruntime thread each (default: the cores "
        "this process may use); with --engine dask, per worker process (default: the host's "
        "cores divided by its workers' threads)",
    )

    logging = parser.add_argument_group("logging")
    logging.add_argument(
        "--progress-seconds",
        type=float,
        default=DEFAULT_PROGRESS_SECONDS,
        help="seconds between progress lines when standard error is not a terminal "
        f"(default: {DEFAULT_PROGRESS_SECONDS:g})",
    )
    logging.add_argument("--quiet", action="store_true", help="log errors only")
    logging.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    add_engine_arguments(parser)
    return parser


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    engine = parser.add_argument_group("Dask engine (pip install '.[dask]')")
    engine.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: score in this process (default); dask: score on a Dask cluster",
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
        help="split uncompressed input files into parts of about this many bytes (default: 64 MiB)",
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


def scoring_function(engine: str):
    """Return `score_files`, or `score_files_dask` for `--engine dask`."""
    if engine != "dask":
        return score_files
    try:
        from score.dask_engine import score_files_dask
    except ModuleNotFoundError as error:
        raise InputError(
            f"--engine dask needs the dask extra ({error}): pip install '.[dask]'"
        ) from error
    return score_files_dask


def _terminate(signum, frame) -> None:
    # Raising here unwinds the scorer, which removes its temporary files on the way out.
    raise SystemExit(EXIT_TERMINATED)


def main(argv: list[str] | None = None) -> int:
    """Run the scorer and return its exit code."""
    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit:
        # argparse exits with 2 on a usage error and 0 after --help.
        return exit.code if isinstance(exit.code, int) else EXIT_INPUT
    level = logging.ERROR if arguments.quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    signal.signal(signal.SIGTERM, _terminate)
    progress = None
    if sys.stderr.isatty() and not arguments.quiet:
        progress = TerminalProgress(sys.stderr)
    try:
        extra_options = engine_options(arguments)
        score = scoring_function(arguments.engine)
        summary = score(
            arguments.inputs,
            arguments.output,
            model=arguments.model,
            text_column=arguments.text_column,
            id_column=arguments.id_column,
            keep_columns=arguments.keep_columns,
            threshold=arguments.threshold,
            batch_size=arguments.batch_size,
            chunk_size=arguments.chunk_size,
            encoding=arguments.encoding,
            sep=arguments.sep,
            threads=arguments.threads,
            max_reject_rate=arguments.max_reject_rate,
            label_column=arguments.label_column,
            output_format=arguments.output_format,
            rejects=arguments.rejects,
            summary=arguments.summary,
            progress=progress,
            progress_seconds=arguments.progress_seconds,
            **extra_options,
        )
    except OutputClosed as error:
        # A pipe reader that stops early is not a failure of the scorer.
        logger.warning("%s", error)
        return EXIT_OK
    except ScoringError as error:
        logger.error("%s", error, exc_info=arguments.debug)
        return error.exit_code
    except KeyboardInterrupt:
        logger.error("interrupted: no output was written for the file being scored")
        return EXIT_INTERRUPTED
    except Exception as error:
        logger.error(
            "unexpected error: %s: %s (rerun with --debug for a traceback)",
            type(error).__name__,
            error,
            exc_info=arguments.debug,
        )
        return EXIT_UNEXPECTED
    evaluation = summary.to_dict()["evaluation"]
    if evaluation is not None:
        # The report goes where the scored rows do not, so `-o -` output stays pure CSV.
        report = sys.stderr if arguments.output == "-" else sys.stdout
        report.write(format_metrics(evaluation) + "\n")
    return EXIT_OK
