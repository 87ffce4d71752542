"""The benchmark runs end to end on tiny files, and its Keras tokeniser matches the scorer's."""

import numpy as np

from bench.inputs import generate_reviews
from bench.keras_pipeline import encode
from score.preprocessing import Vocabulary
from tests.conftest import run_module


def test_bench_quick_report():
    result = run_module("bench", "--quick")
    assert "scorer: median" in result.stdout
    assert "start-up, 10-row file" in result.stdout
    assert "peak memory, larger / smaller file" in result.stdout
    assert "inference:" in result.stdout


def test_keras_tokeniser_matches_scorer():
    texts = [
        "Great MOVIE!<br />Don't miss it\u2019s end",
        "caf\u00e9 \u201cquoted\u201d \u2014 na\u00efve\U0001f600x",
        "",
        "!!!",
        " ".join(["word"] * 300),
        "\ufeffbom 10/10 \u65e5\u672c\u3002",
    ]
    vocabulary = Vocabulary(("great", "movie", "dont", "its", "word", "caf\u00e9", "10"))
    word_ids = {word: index + 2 for index, word in enumerate(vocabulary.words)}
    expected = vocabulary.encode(texts, 50)
    padded = np.zeros((len(texts), 50), dtype=np.int32)
    padded[:, : expected.ids.shape[1]] = expected.ids
    assert np.array_equal(np.array(encode(texts, word_ids, 50)), padded)


def test_generated_lengths():
    lengths = [len(text.split()) for text in generate_reviews(2000, seed=0)]
    assert 150 <= np.median(lengths) <= 200
    assert all(len(text.split()) == 20 for text in generate_reviews(10, seed=0, words=20))
