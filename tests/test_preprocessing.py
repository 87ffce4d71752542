import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from score.preprocessing import (
    OUT_OF_VOCABULARY_ID,
    PADDING_ID,
    RESERVED_IDS,
    Vocabulary,
    tokenize,
)


def tokens_of(text: str) -> list[str]:
    return tokenize([text]).values.to_pylist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Great MOVIE!", ["great", "movie"]),
        ("Don't stop", ["dont", "stop"]),
        ("it\u2019s fine", ["its", "fine"]),
        ("first<br />second<br/>third<BR>fourth", ["first", "second", "third", "fourth"]),
        ("\u201cquoted\u201d \u2014 dash\u2026", ["quoted", "dash"]),
        ("caf\u00e9 na\u00efve", ["caf\u00e9", "na\u00efve"]),
        ("\U0001f600smile\U0001f600", ["smile"]),
        ("a\x00b\tc\nd", ["a", "b", "c", "d"]),
        ("10/10 would watch", ["10", "10", "would", "watch"]),
        (
            "\u0645\u0631\u062d\u0628\u0627 \u65e5\u672c\u3002",
            ["\u0645\u0631\u062d\u0628\u0627", "\u65e5\u672c"],
        ),
        ("\ufeffbom", ["bom"]),
        ("", []),
        ("   ", []),
        ("!!!", []),
    ],
)
def test_tokenize_rules(text, expected):
    assert tokens_of(text) == expected


def test_tokenize_counts_per_review():
    tokens = tokenize(["one two", "", "three"])
    assert tokens.counts.tolist() == [2, 0, 1]
    assert tokens.values.to_pylist() == ["one", "two", "three"]


def test_vocabulary_orders_by_frequency_then_word():
    vocabulary = Vocabulary.build(["b a", "a c", "b a d"], size=RESERVED_IDS + 3)
    assert vocabulary.words == ("a", "b", "c")
    assert vocabulary.size == 5


def test_vocabulary_size_too_small():
    with pytest.raises(ValueError, match="leaves no room"):
        Vocabulary.build(["a"], size=RESERVED_IDS)


def test_encode_reserved_and_unknown_ids():
    vocabulary = Vocabulary(("good", "bad"))
    batch = vocabulary.encode(["good unknown bad"], sequence_length=5)
    assert batch.ids.tolist() == [[2, OUT_OF_VOCABULARY_ID, 3]]
    assert batch.lengths.tolist() == [3]


def test_encode_pads_at_end():
    vocabulary = Vocabulary(("good", "bad"))
    batch = vocabulary.encode(["good", "good bad bad"], sequence_length=5)
    assert batch.ids.tolist() == [[2, PADDING_ID, PADDING_ID], [2, 3, 3]]
    assert batch.lengths.tolist() == [1, 3]


def test_encode_truncates_keeping_end():
    vocabulary = Vocabulary(("a", "b", "c", "d"))
    batch = vocabulary.encode(["a b c d"], sequence_length=2)
    assert batch.ids.tolist() == [[4, 5]]
    assert batch.lengths.tolist() == [2]


@pytest.mark.parametrize("text", ["", "   ", "?!", None])
def test_encode_tokenless_review_as_one_unknown(text):
    vocabulary = Vocabulary(("good",))
    batch = vocabulary.encode([text, "good"], sequence_length=4)
    assert batch.ids[0].tolist() == [OUT_OF_VOCABULARY_ID]
    assert batch.lengths[0] == 1


def test_encode_lone_surrogate():
    vocabulary = Vocabulary(("x", "y"))
    batch = vocabulary.encode(["x\ud800y"], sequence_length=4)
    assert batch.ids.tolist() == [[2, 3]]


def test_encode_long_review_stays_in_range():
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(50)))
    text = " ".join(f"w{i % 70}" for i in range(1_000_000))
    batch = vocabulary.encode([text], sequence_length=200)
    assert batch.ids.shape == (1, 200)
    assert batch.ids.max() < vocabulary.size
    assert batch.ids.min() >= OUT_OF_VOCABULARY_ID


def test_encode_rejects_zero_length():
    with pytest.raises(ValueError, match="sequence length 0"):
        Vocabulary(("a",)).encode(["a"], sequence_length=0)


def test_encode_batch_independent():
    vocabulary = Vocabulary(("a", "b", "c"))
    texts = ["a b", "c c c c c", "b"]
    together = vocabulary.encode(texts, sequence_length=3)
    for row, text in enumerate(texts):
        alone = vocabulary.encode([text], sequence_length=3)
        width = alone.lengths[0]
        assert np.array_equal(together.ids[row, :width], alone.ids[0, :width])
        assert together.lengths[row] == alone.lengths[0]


@functools.cache
def shipped_vocabulary() -> tuple[Vocabulary, int]:
    from score import SentimentModel

    metadata = SentimentModel().metadata
    return metadata.vocabulary, metadata.sequence_length


def assert_ids_in_range(texts: list, vocabulary: Vocabulary, sequence_length: int) -> None:
    batch = vocabulary.encode(texts, sequence_length)
    assert batch.ids.shape[0] == len(texts)
    assert batch.ids.shape[1] <= sequence_length
    assert batch.ids.min(initial=0) >= PADDING_ID
    assert batch.ids.max(initial=0) < vocabulary.size
    assert batch.lengths.min(initial=1) >= 1
    assert batch.lengths.max(initial=1) <= sequence_length


# Any code point, with surrogates and control characters drawn far more often than by chance.
ANY_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=None)
    | st.characters(min_codepoint=0, max_codepoint=0x1F, categories=None)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_TEXT | st.sampled_from(["NA", "", "<br />", "\x00", "\u200f"]), max_size=8))
def test_encode_any_text_in_range(texts):
    vocabulary, sequence_length = shipped_vocabulary()
    assert_ids_in_range(texts, vocabulary, sequence_length)


def test_encode_hostile_texts_in_range():
    vocabulary, sequence_length = shipped_vocabulary()
    texts = [
        "".join(chr(code) for code in range(32)) + "\x7f",
        "a\x00b\x00\x00c",
        "\U0001f600\U0001f44d\u2764\ufe0f great",
        "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u202ereversed\u202c",
        "x" * (5 << 20),
        "good movie " * 500_000,
        "\ud800\udfff lone surrogates",
    ]
    assert_ids_in_range(texts, vocabulary, sequence_length)
