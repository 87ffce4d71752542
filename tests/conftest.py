"""Shared fixtures: generated review files and one small model trained through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE_REVIEWS = REPOSITORY / "data" / "sample_reviews.csv"

POSITIVE_WORDS = ["wonderful", "brilliant", "moving", "delightful", "superb", "charming", "great"]
NEGATIVE_WORDS = ["awful", "boring", "dreadful", "tedious", "clumsy", "terrible", "dull"]
NEUTRAL_WORDS = ["the", "film", "plot", "actor", "scene", "story", "camera", "it", "was", "and"]


def generate_reviews(count: int, seed: int) -> pd.DataFrame:
    """Generate reviews whose sentiment words carry the label, with ids and 0/1 labels."""
    generator = np.random.default_rng(seed)
    texts, labels = [], []
    for index in range(count):
        label = index % 2
        cues = POSITIVE_WORDS if label else NEGATIVE_WORDS
        length = int(generator.integers(8, 40))
        words = list(generator.choice(NEUTRAL_WORDS, length))
        for _ in range(3):
            words.insert(int(generator.integers(0, len(words))), str(generator.choice(cues)))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(label)
    return pd.DataFrame(
        {"id": [f"g{seed}-{i:05d}" for i in range(count)], "review": texts, "sentiment": labels}
    )


# A model small enough to train in seconds on the generated reviews.
SMALL_MODEL = (
    "--epochs", "2",
    "--vocabulary-size", "200",
    "--embedding-dim", "16",
    "--units", "16",
    "--sequence-length", "48",
    "--batch-size", "32",
    "--learning-rate", "0.01",
)  # fmt: skip


def run_module(module: str, *arguments: str, check: bool = True, **options):
    """Run `python -m module arguments` in a subprocess and return the completed process."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPOSITORY)}
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=options.pop("cwd", REPOSITORY),
        **options,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"python -m {module} exited {result.returncode}\n{result.stderr[-3000:]}"
        )
    return result


@pytest.fixture(scope="session")
def generated_data(tmp_path_factory) -> Path:
    """A folder with train.csv (600 reviews) and test.csv (200 reviews)."""
    folder = tmp_path_factory.mktemp("generated")
    generate_reviews(600, seed=1).to_csv(folder / "train.csv", index=False)
    generate_reviews(200, seed=2).to_csv(folder / "test.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def trained_run(generated_data, tmp_path_factory) -> Path:
    """A run folder of a small LSTM trained for 2 epochs through `python -m train`."""
    pytest.importorskip("tensorflow")
    run = tmp_path_factory.mktemp("run")
    run_module(
        "train",
        "--data",
        str(generated_data),
        "--out",
        str(run),
        "--epochs",
        "2",
        "--vocabulary-size",
        "200",
        "--embedding-dim",
        "16",
        "--units",
        "16",
        "--sequence-length",
        "48",
        "--batch-size",
        "32",
        "--learning-rate",
        "0.01",
        "--seed",
        "7",
    )
    return run


@pytest.fixture(scope="session")
def exported_model(trained_run) -> Path:
    """The ONNX file exported from `trained_run` through `python -m export`."""
    output = trained_run / "model.onnx"
    run_module("export", str(trained_run), "--output", str(output))
    return output


def run_score(*arguments: str, cwd: Path = REPOSITORY, stdin: str | None = None):
    """Run `python -m score arguments` and return the completed process, whatever its exit."""
    return run_module("score", *arguments, check=False, cwd=cwd, input=stdin)


def error_lines(stderr: str) -> list[str]:
    """Return the lines of a scorer's standard error logged at level ERROR."""
    return [line for line in stderr.splitlines() if " ERROR " in line]


def temporary_files(folder: Path) -> list[str]:
    """Return the names of temporary output files left in `folder`."""
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp"))
