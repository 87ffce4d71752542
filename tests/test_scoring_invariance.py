"""Scores do not depend on batch size, chunk size or a row's neighbours."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow.csv as pacsv
import pytest

from score import SentimentModel, score_files
from tests.conftest import generate_reviews

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel(batch_size=64)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    reviews = generate_reviews(150, seed=11)["review"].tolist()
    # Long reviews are cut to the model's last 400 tokens, so lengths vary across the limit.
    reviews[3] = " ".join([reviews[3]] * 30)
    reviews[70] = "great " * 500
    reviews[100] = "!!!"
    return reviews


def test_scores_alone_match_batch(model, texts):
    batched = model.score_texts(texts)
    alone = np.array([model.score_texts([text])[0] for text in texts])
    np.testing.assert_allclose(alone, batched, atol=TOLERANCE, rtol=0)


def test_scores_match_across_batch_sizes(texts):
    small = SentimentModel(batch_size=1).score_texts(texts)
    large = SentimentModel(batch_size=1000).score_texts(texts)
    np.testing.assert_allclose(small, large, atol=TOLERANCE, rtol=0)


def test_scores_match_across_chunks(model, texts, tmp_path):
    path = tmp_path / "in.csv"
    with path.open("w", newline="") as file:
        file.write("review\n")
        for text in texts:
            file.write(f'"{text}"\n')
    tables = {}
    for chunk_size in (1, 7, 64, 10_000):
        output = tmp_path / f"out{chunk_size}.csv"
        score_files([path], output, model=model, chunk_size=chunk_size)
        tables[chunk_size] = pacsv.read_csv(output)
    reference = tables[10_000]
    assert reference.num_rows == len(texts)
    for chunk_size, table in tables.items():
        np.testing.assert_allclose(
            table.column("score").to_numpy(),
            reference.column("score").to_numpy(),
            atol=TOLERANCE,
            rtol=0,
            err_msg=f"chunk size {chunk_size}",
        )
        assert table.column("label").to_pylist() == reference.column("label").to_pylist()


def test_inference_parts_respect_rows_and_token_budget():
    from score.model import _part_bounds

    lengths = np.sort(np.random.default_rng(5).integers(1, 401, 500))
    bounds = _part_bounds(lengths, rows=16, max_tokens=3200)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == len(lengths)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(bounds))
    for start, end in bounds:
        assert 1 <= end - start <= 16
        assert (end - start) * lengths[end - 1] <= 3200
    assert _part_bounds(np.array([5000]), rows=16, max_tokens=3200) == [(0, 1)]
