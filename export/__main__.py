"""Command line: `python -m export RUN_DIR --output model.onnx`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Convert a run folder's best checkpoint to one self-contained ONNX file.",
    )
    parser.add_argument("run", type=Path, help="run folder written by `python -m train`")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        help="ONNX file to write (default: RUN/model.onnx)",
    )
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="quantise the LSTM weights to int8; needs --data (default: keep float32)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="labelled reviews to measure accuracy before and after --quantize: a CSV file "
        "with review and sentiment columns, or an aclImdb folder",
    )
    parser.add_argument(
        "--max-accuracy-loss",
        type=float,
        default=0.003,
        help="largest drop in accuracy on --data that --quantize accepts, as a fraction "
        "(default: 0.003, that is 0.3 points)",
    )
    arguments = parser.parse_args(argv)
    # Usage errors exit 2 before TensorFlow loads. Exit code 3 means a check of the export failed.
    if not (arguments.run / "best.keras").is_file():
        parser.error(f"{arguments.run}/best.keras not found: pass a run folder of python -m train")
    if arguments.quantize is not None and arguments.data is None:
        parser.error("--quantize needs --data with labelled reviews to measure accuracy")
    if arguments.quantize is None and arguments.data is not None:
        parser.error("--data is only read with --quantize; add --quantize int8 or drop --data")
    if not 0 <= arguments.max_accuracy_loss < 1:
        parser.error(
            f"--max-accuracy-loss {arguments.max_accuracy_loss} is invalid: use a fraction "
            "from 0 to below 1, for example 0.003"
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from export.convert import ExportError, export_run

    output = arguments.output or arguments.run / "model.onnx"
    try:
        export_run(
            arguments.run,
            output,
            quantize=arguments.quantize,
            data=arguments.data,
            max_accuracy_loss=arguments.max_accuracy_loss,
        )
    except ExportError as error:
        logging.getLogger("export").error("%s", error)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
