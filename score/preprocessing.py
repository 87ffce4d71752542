"""Text preprocessing shared by training and scoring.

This module is the only definition of how review text becomes token ids. `train` imports it, and
the exported model stores its settings and vocabulary, so training and scoring cannot tokenise
differently.

The steps, vectorised over a whole batch with pyarrow kernels and numpy:

1. lower-case the text (Unicode-aware) and replace HTML line breaks (`<br />`) with a space;
2. delete apostrophes (' and U+2019), so that "don't" becomes the single token "dont";
3. split into tokens. A token is a maximal run of ASCII letters and digits and of non-ASCII
   characters. ASCII punctuation, spaces and control characters separate tokens, and so do
   these non-ASCII characters: U+0080-U+00BF (Latin-1 punctuation and no-break space),
   U+00D7 and U+00F7, U+2000-U+2BFF (punctuation, spaces, symbols, arrows), U+3000-U+303F (CJK
   punctuation), U+FEFF (byte-order mark) and U+1F000-U+1FFFF (emoji);
4. map each token to its id: 0 is padding, 1 is out-of-vocabulary, and the vocabulary words take
   ids 2 and up in order of training-set frequency;
5. keep the last `sequence_length` tokens of a long review (the end of a review usually carries
   its verdict) and pad short ones with 0 at the end.

A review with no token at all (empty, or only punctuation) is encoded as one out-of-vocabulary
token, so every row has a length of at least 1 and every id is below the vocabulary size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

PADDING_ID = 0
OUT_OF_VOCABULARY_ID = 1
RESERVED_IDS = 2

# Settings stored with a model. "post" padding and "pre" truncation follow the Keras
# `pad_sequences` names: zeros go after the tokens, and long reviews lose their beginning.
PADDING = "post"
TRUNCATING = "pre"

LINE_BREAK_PATTERN = r"<br\s*/?>"
# Reviews encoded at a time by `Vocabulary.encode`; larger inputs are encoded slice by slice.
ENCODE_SLICE_ROWS = 512

# Byte classes of UTF-8 text: a separator, a byte of a token, or a byte to delete.
_SEPARATOR, _WORD, _DELETE = 0, 1, 2
_ASCII_CLASSES = np.full(256, _WORD, dtype=np.uint8)
_ASCII_CLASSES[:128] = _SEPARATOR
for _character in "abcdefghijklmnopqrstuvwxyz0123456789":
    _ASCII_CLASSES[ord(_character)] = _WORD
_ASCII_CLASSES[ord("'")] = _DELETE


@dataclass(frozen=True)
class Tokens:
    """Tokens of a batch of reviews: all tokens in order, and how many belong to each review."""

    values: pa.StringArray
    counts: np.ndarray


def as_string_array(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return the texts as one pyarrow string array, with nulls as empty strings."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if isinstance(texts, pa.Array):
        if not pa.types.is_string(texts.type):
            texts = texts.cast(pa.string())
        return texts.fill_null("")
    texts = list(texts)
    try:
        return pa.array(texts, type=pa.string()).fill_null("")
    except (UnicodeEncodeError, pa.ArrowInvalid, pa.ArrowTypeError):
        # Lone surrogates and non-string values cannot become UTF-8 as they are.
        cleaned = [
            "" if text is None else str(text).encode("utf-8", "replace").decode("utf-8")
            for text in texts
        ]
        return pa.array(cleaned, type=pa.string())


def _classify_bytes(data: np.ndarray) -> np.ndarray:
    classes = _ASCII_CLASSES[data]
    leads = np.flatnonzero(data >= 0xC2)
    if len(leads) == 0:
        return classes

    # Valid UTF-8 has its continuation bytes right after each lead byte, so these reads stay in
    # bounds. The padding only guards the last lead byte of a truncated buffer.
    padded = np.concatenate([data, np.zeros(3, dtype=np.uint8)])
    first, second, third = padded[leads], padded[leads + 1], padded[leads + 2]
    rules = (
        ((first == 0xC2) & (second <= 0xBF), 2, _SEPARATOR),
        ((first == 0xC3) & ((second == 0x97) | (second == 0xB7)), 2, _SEPARATOR),
        ((first == 0xE2) & (second <= 0xAF), 3, _SEPARATOR),
        ((first == 0xE2) & (second == 0x80) & (third == 0x99), 3, _DELETE),
        ((first == 0xE3) & (second == 0x80), 3, _SEPARATOR),
        ((first == 0xEF) & (second == 0xBB) & (third == 0xBF), 3, _SEPARATOR),
        ((first == 0xF0) & (second == 0x9F), 4, _SEPARATOR),
    )
    for matches, width, byte_class in rules:
        starts = leads[matches]
        for step in range(width):
            classes[starts + step] = byte_class
    return classes


def tokenize(texts: Iterable[str] | pa.Array | pa.ChunkedArray) -> Tokens:
    """Split each review into normalised tokens, following the rules in the module docstring."""
    array = as_string_array(texts)
    rows = len(array)
    array = pc.utf8_lower(array)
    array = pc.replace_substring_regex(array, LINE_BREAK_PATTERN, " ")
    if array.offset or array.null_count:
        array = pa.concat_arrays([array.fill_null("")])

    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[: rows + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]] if rows else None
    if data is None or len(data) == 0:
        return Tokens(pa.array([], type=pa.string()), np.zeros(rows, dtype=np.int64))
    offsets -= offsets[0]

    classes = _classify_bytes(data)
    deleted = np.flatnonzero(classes == _DELETE)
    if len(deleted):
        offsets = offsets - np.searchsorted(deleted, offsets)
        data = np.delete(data, deleted)
        classes = np.delete(classes, deleted)
    is_word = classes == _WORD

    # A token starts at a word byte after a separator or at a review start, and ends likewise.
    review_start = np.zeros(len(data) + 1, dtype=bool)
    review_start[offsets] = True
    after_separator = np.concatenate([[True], ~is_word[:-1]]) | review_start[:-1]
    before_separator = np.concatenate([~is_word[1:], [True]]) | review_start[1:]
    starts = np.flatnonzero(is_word & after_separator)
    ends = np.flatnonzero(is_word & before_separator) + 1

    token_offsets = np.zeros(len(starts) + 1, dtype=np.int32)
    np.cumsum(ends - starts, out=token_offsets[1:])
    token_data = data[is_word]
    values = pa.StringArray.from_buffers(
        len(starts), pa.py_buffer(token_offsets), pa.py_buffer(token_data)
    )
    # Tokens never cross a review boundary, so a review's tokens are those starting in its bytes.
    counts = np.diff(np.searchsorted(starts, offsets))
    return Tokens(values, counts)


@dataclass(frozen=True)
class EncodedBatch:
    """Token ids of a batch of reviews, padded at the end with `PADDING_ID`.

    `ids` has shape (reviews, width) and dtype int32; `lengths` has shape (reviews,) and gives
    the number of real tokens in each row, from 1 to width.
    """

    ids: np.ndarray
    lengths: np.ndarray


@dataclass(frozen=True)
class Vocabulary:
    """Words with ids, in order: `words[0]` has id `RESERVED_IDS`."""

    words: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of ids, the reserved ones included: the input size of the embedding."""
        return len(self.words) + RESERVED_IDS

    @classmethod
    def build(cls, texts: Iterable[str] | pa.Array, size: int) -> Vocabulary:
        """Build a vocabulary of `size` ids from the most frequent tokens of `texts`.

        Ties in frequency are broken alphabetically, so the result depends only on the texts.
        """
        if size <= RESERVED_IDS:
            raise ValueError(
                f"vocabulary size {size} leaves no room for words: "
                f"use a size above {RESERVED_IDS}, for example 20000"
            )
        counts = pc.value_counts(tokenize(texts).values)
        words = counts.field("values").to_numpy(zero_copy_only=False)
        frequencies = counts.field("counts").to_numpy()
        order = np.lexsort((words, -frequencies))
        chosen = words[order[: size - RESERVED_IDS]]
        return cls(tuple(str(word) for word in chosen))

    def encode(
        self, texts: Iterable[str] | pa.Array | pa.ChunkedArray, sequence_length: int
    ) -> EncodedBatch:
        """Encode reviews as padded token ids, keeping the last `sequence_length` tokens."""
        if sequence_length < 1:
            raise ValueError(f"sequence length {sequence_length} is invalid: use 1 or more")
        array = as_string_array(texts)
        if len(array) <= ENCODE_SLICE_ROWS:
            return self._encode_slice(array, sequence_length)
        # Encoding in slices bounds the temporary arrays, about 25 bytes per byte of text.
        parts = [
            self._encode_slice(array.slice(start, ENCODE_SLICE_ROWS), sequence_length)
            for start in range(0, len(array), ENCODE_SLICE_ROWS)
        ]
        width = max(part.ids.shape[1] for part in parts)
        return EncodedBatch(
            ids=np.concatenate([pad_to_width(part, width) for part in parts]),
            lengths=np.concatenate([part.lengths for part in parts]),
        )

    def _encode_slice(self, texts: pa.Array, sequence_length: int) -> EncodedBatch:
        tokens = tokenize(texts)
        counts = tokens.counts
        rows = len(counts)
        lengths = np.minimum(counts, sequence_length)
        width = max(int(lengths.max(initial=0)), 1)
        ids = np.full((rows, width), PADDING_ID, dtype=np.int32)

        # The kept tokens of a review are its last `lengths` tokens, which are contiguous in
        # `tokens.values`: look up only those, and write them to the start of the review's row.
        ends = np.cumsum(counts)
        kept_offsets = np.concatenate([[0], np.cumsum(lengths)])
        kept = int(kept_offsets[-1])
        step = np.arange(kept, dtype=np.int64)
        source = step + np.repeat(ends - lengths - kept_offsets[:-1], lengths)
        target = step + np.repeat(
            np.arange(rows, dtype=np.int64) * width - kept_offsets[:-1], lengths
        )
        words = tokens.values.take(pa.array(source))
        positions = pc.index_in(words, value_set=self._word_array()).fill_null(-1)
        positions = positions.to_numpy(zero_copy_only=False)
        ids.reshape(-1)[target] = np.where(
            positions < 0, OUT_OF_VOCABULARY_ID, positions + RESERVED_IDS
        )

        empty = lengths == 0
        ids[empty, 0] = OUT_OF_VOCABULARY_ID
        lengths = np.where(empty, 1, lengths).astype(np.int32)
        return EncodedBatch(ids=ids, lengths=lengths)

    def _word_array(self) -> pa.Array:
        cached = self.__dict__.get("_words_array")
        if cached is None:
            cached = pa.array(self.words, type=pa.string())
            object.__setattr__(self, "_words_array", cached)
        return cached


def pad_to_width(batch: EncodedBatch, width: int) -> np.ndarray:
    """Return the ids padded with `PADDING_ID` (or cut) to exactly `width` columns."""
    current = batch.ids.shape[1]
    if current >= width:
        return np.ascontiguousarray(batch.ids[:, :width])
    padding = np.full((batch.ids.shape[0], width - current), PADDING_ID, dtype=np.int32)
    return np.concatenate([batch.ids, padding], axis=1)
