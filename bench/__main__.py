"""Command line: `python -m bench [--imdb PATH] [--keras-run RUN_DIR]`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench.run import QUICK, Sizes, format_report, run_in_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time `python -m score` against a Keras pipeline on the same files.",
    )
    parser.add_argument(
        "--imdb",
        type=Path,
        default=None,
        help="IMDB reviews: a CSV file with a review column or an aclImdb split folder "
        "(default: 25,000 generated reviews of IMDB-like lengths)",
    )
    parser.add_argument(
        "--keras-run",
        type=Path,
        default=None,
        help="run folder of `python -m train` whose best.keras the Keras pipeline loads "
        "(default: the Keras pipeline is not run)",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="model for the scorer (default: the shipped one)"
    )
    parser.add_argument(
        "--repeats", type=int, default=Sizes.repeats, help="runs of each pipeline (default: 3)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for the input files (default: temporary)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny files and one run each, to check the benchmark"
    )
    arguments = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    sizes = QUICK if arguments.quick else Sizes(repeats=arguments.repeats)
    report = run_in_folder(
        arguments.workdir,
        imdb=arguments.imdb,
        keras_run=arguments.keras_run,
        model=arguments.model,
        sizes=sizes,
    )
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
