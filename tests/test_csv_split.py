"""Splitting CSV files at record boundaries, with quoted newlines, quotes and separators."""

from __future__ import annotations

import csv
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from score import csv_split, reader
from score.errors import InputError

REVIEW_TEXT = st.text(alphabet=st.sampled_from(list('ab "\n\r,é')), max_size=30)


def write_csv(path, rows, with_header_quotes: bool = False) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(
            file, quoting=csv.QUOTE_ALL if with_header_quotes else csv.QUOTE_MINIMAL
        )
        writer.writerow(["id", "review"])
        writer.writerows(rows)


def read_records(path, boundaries=None) -> list[tuple[str, str]]:
    columns = reader.choose_columns(path, reader.read_header(path, "utf-8", ","), None, None)
    if boundaries is None:
        batches = reader.read_chunks(path, columns)
    else:
        offsets = boundaries + [path.stat().st_size]
        batches = (
            batch
            for start, end in pairwise(offsets)
            for batch in csv_split.read_range(path, columns, start, end)
        )
    records = []
    for batch in batches:
        records.extend(
            zip(batch.column("id").to_pylist(), batch.column("review").to_pylist(), strict=True)
        )
    return records


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(REVIEW_TEXT, min_size=1, max_size=40),
    part_bytes=st.integers(1, 200),
    scan_block_bytes=st.integers(1, 64),
    quote_all=st.booleans(),
)
def test_split_keeps_every_record(
    tmp_path, monkeypatch, texts, part_bytes, scan_block_bytes, quote_all
):
    monkeypatch.setattr(csv_split, "SCAN_BLOCK_BYTES", scan_block_bytes)
    path = tmp_path / "reviews.csv"
    write_csv(path, [(f"r{i}", text) for i, text in enumerate(texts)], quote_all)

    boundaries = csv_split.record_boundaries(path, part_bytes)
    assert boundaries[0] == 0
    assert boundaries == sorted(set(boundaries))
    assert boundaries[-1] < path.stat().st_size
    assert read_records(path, boundaries) == read_records(path)


def test_split_sizes_parts(tmp_path):
    path = tmp_path / "reviews.csv"
    write_csv(path, [(f"r{i}", 'a "quoted"\nline, and more') for i in range(500)])
    boundaries = csv_split.record_boundaries(path, 1000)
    sizes = [end - start for start, end in pairwise(boundaries + [path.stat().st_size])]
    assert 15 <= len(boundaries) <= 20
    assert all(size < 1100 for size in sizes)


def test_split_rejects_zero_part_size(tmp_path):
    path = tmp_path / "reviews.csv"
    write_csv(path, [("r0", "text")])
    with pytest.raises(InputError, match="part size 0 bytes is invalid"):
        csv_split.record_boundaries(path, 0)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", True), ("cp1252", True), ("latin-1", True), ("utf-16", False), ("no-such", False)],
)
def test_ascii_compatible_encodings(encoding, expected):
    assert csv_split.is_ascii_compatible(encoding, ",") is expected
