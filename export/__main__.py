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
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from export.convert import ExportError, export_run

    output = arguments.output or arguments.run / "model.onnx"
    try:
        export_run(arguments.run, output)
    except ExportError as error:
        logging.getLogger("export").error("%s", error)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
