"""Splitting CSV files into byte ranges that read back as the whole file, numbers included."""

from __future__ import annotations

import csv
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from score import csv_split, sources
from score.errors import InputError
from score.reader import CsvRecords
from score.sources import Job

REVIEW_TEXT = st.text(alphabet=st.sampled_from(list('ab "\n\r,é')), max_size=30)
RAW_TEXT = st.text(alphabet=st.sampled_from(list('ab ",\r\n')), max_size=6)
# Mostly valid fields, quoted or plain, and now and then one with stray quotes or line breaks.
FIELD = st.one_of(
    RAW_TEXT.map(lambda text: '"' + text.replace('"', '""') + '"'),
    RAW_TEXT.map(lambda text: "".join(c for c in text if c not in '",\r\n')),
    RAW_TEXT,
)
RAW_LINE = st.lists(FIELD, min_size=1, max_size=3).map(",".join)
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write_csv(path, rows, quote_all: bool = False, byte_order_mark: bool = False) -> None:
    with path.open("w", encoding="utf-8-sig" if byte_order_mark else "utf-8", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(["id", "review"])
        writer.writerows(rows)


def read_items(path, byte_range=None) -> list[tuple]:
    """Return (record number, item) pairs, numbered as in the whole file."""
    job = Job(str(path), "unused.csv", "csv", None, byte_range)
    with sources.open_job_input(job) as stream:
        if byte_range is None or byte_range.start == 0:
            records = CsvRecords(stream, str(path))
        else:
            records = CsvRecords(
                stream, str(path), header=byte_range.header, first_line=byte_range.first_line
            )
        first = 0 if byte_range is None else byte_range.first_record
        return [(first + number, item) for number, item in enumerate(records)]


def header_lines(path) -> tuple[list[str], int]:
    with sources.open_binary(str(path)) as stream:
        records = CsvRecords(stream, str(path))
        return records.header, records.lines.count


def read_split(path, part_bytes: int) -> tuple[list, list]:
    header, lines = header_lines(path)
    ranges = csv_split.split_ranges(path, header, lines, "utf-8", ",", part_bytes)
    return ranges, [item for part in ranges for item in read_items(path, part)]


@EXAMPLES
@given(
    texts=st.lists(REVIEW_TEXT, min_size=1, max_size=40),
    part_bytes=st.integers(1, 60),
    scan_block_bytes=st.integers(1, 64),
    quote_all=st.booleans(),
    byte_order_mark=st.booleans(),
)
def test_split_keeps_every_record(
    tmp_path, monkeypatch, texts, part_bytes, scan_block_bytes, quote_all, byte_order_mark
):
    monkeypatch.setattr(csv_split, "SCAN_BLOCK_BYTES", scan_block_bytes)
    path = tmp_path / "reviews.csv"
    write_csv(path, [(f"r{i}", text) for i, text in enumerate(texts)], quote_all, byte_order_mark)

    scan = csv_split.scan(path, part_bytes, ord(","))
    assert scan.problem is None
    ranges, items = read_split(path, part_bytes)
    if ranges:
        assert ranges[0].start == 0
        assert ranges[-1].end == path.stat().st_size
        assert all(left.end == right.start for left, right in pairwise(ranges))
        assert items == read_items(path)


@EXAMPLES
@given(
    lines=st.lists(RAW_LINE, min_size=2, max_size=20),
    line_end=st.sampled_from(["\n", "\r\n"]),
    part_bytes=st.integers(1, 30),
    scan_block_bytes=st.integers(1, 16),
)
def test_split_raw_quoting(tmp_path, monkeypatch, lines, line_end, part_bytes, scan_block_bytes):
    """Any text: either the scan finds a problem, or the ranges read as the whole file."""
    monkeypatch.setattr(csv_split, "SCAN_BLOCK_BYTES", scan_block_bytes)
    path = tmp_path / "raw.csv"
    path.write_bytes(("id,review\n" + line_end.join(lines)).encode())

    ranges, items = read_split(path, part_bytes)
    if ranges:
        assert items == read_items(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('1,a "stray quote\n2,b\n', "a quote inside an unquoted field"),
        ('1,"closed" then text\n2,b\n', "text after a closing quote"),
        ('1,"never closed\n2,b\n', "a quote is never closed"),
        ("1,a\rb\n2,b\n", "a carriage return without a line feed"),
        ("1,a\x00b\n2,b\n", "a NUL byte"),
    ],
)
def test_scan_finds_problem(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_bytes(("id,review\n" + text).encode())
    scan = csv_split.scan(path, 4, ord(","))
    assert scan.problem is not None
    assert scan.problem.startswith(problem)
    header, lines = header_lines(path)
    assert csv_split.split_ranges(path, header, lines, "utf-8", ",", 4) == []


def test_split_numbers_lines_and_records(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b'\nid,review\n1,"two\nlines"\n\n2,b\r\n3,c\n4,"x ""y"""\n5,e')
    header, lines = header_lines(path)
    ranges = csv_split.split_ranges(path, header, lines, "utf-8", ",", 1)

    assert [(part.first_line, part.first_record) for part in ranges] == [
        (1, 0),
        (3, 0),
        (5, 1),
        (6, 1),
        (7, 2),
        (8, 3),
        (9, 4),
    ]
    assert ranges[1].header == ("id", "review")
    assert [item for part in ranges for item in read_items(path, part)] == read_items(path)


def test_split_sizes_parts(tmp_path):
    path = tmp_path / "reviews.csv"
    write_csv(path, [(f"r{i}", 'a "quoted"\nline, and more') for i in range(500)])
    header, lines = header_lines(path)
    ranges = csv_split.split_ranges(path, header, lines, "utf-8", ",", 1000)
    assert 15 <= len(ranges) <= 20
    assert all(part.end - part.start < 1100 for part in ranges)


def test_split_leaves_small_file_whole(tmp_path):
    path = tmp_path / "reviews.csv"
    write_csv(path, [("r0", "text")])
    header, lines = header_lines(path)
    assert csv_split.split_ranges(path, header, lines, "utf-8", ",", 1 << 20) == []


def test_scan_rejects_zero_part_size(tmp_path):
    path = tmp_path / "reviews.csv"
    write_csv(path, [("r0", "text")])
    with pytest.raises(InputError, match="part size 0 bytes is invalid"):
        csv_split.scan(path, 0, ord(","))


@pytest.mark.parametrize(
    ("encoding", "sep", "expected"),
    [
        ("utf-8", ",", ord(",")),
        ("utf-8-sig", ";", ord(";")),
        ("cp1252", "\t", ord("\t")),
        ("latin-1", "|", ord("|")),
        ("utf-8", "§", None),
        ("shift_jis", "|", None),
    ],
)
def test_separator_byte_by_encoding(encoding, sep, expected):
    assert csv_split.separator_byte(encoding, sep) == expected
