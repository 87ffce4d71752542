"""CSV record reading: quoting, line numbers, rejects, encodings."""

from __future__ import annotations

import io

import pytest

from score.errors import InputError
from score.reader import MAX_FIELD_CHARACTERS, CsvRecords, Record, Reject


def read(data: bytes, **options) -> tuple[CsvRecords, list[Record | Reject]]:
    records = CsvRecords(io.BytesIO(data), "in.csv", **options)
    return records, list(records)


def test_reader_valid_quoting_intact():
    data = b'id,review\n1,"a, b"\n2,"x ""y"" z"\n3,"one\r\ntwo"\n'
    records, items = read(data)
    assert records.header == ["id", "review"]
    assert items == [
        Record(2, ["1", "a, b"]),
        Record(3, ["2", 'x "y" z']),
        Record(4, ["3", "one\r\ntwo"]),
    ]


def test_reader_unclosed_quote_then_quoted_rows():
    data = b'id,review\n1,"never closed\n2,plain\n3,"quoted, fine"\n4,last\n'
    _, items = read(data)
    assert items[0] == Reject(
        2, "text after a closing quote: a quote is unbalanced", '1,"never closed'
    )
    assert items[1:] == [
        Record(3, ["2", "plain"]),
        Record(4, ["3", "quoted, fine"]),
        Record(5, ["4", "last"]),
    ]


def test_reader_text_after_closing_quote():
    _, items = read(b'id,review\n1,"closed" then more\n2,ok\n')
    assert [type(item).__name__ for item in items] == ["Reject", "Record"]
    assert items[0].line == 2


def test_reader_field_count_and_blank_lines():
    records, items = read(b"id,review\n\n1\n2,a,b\n\n3,c\n")
    assert items == [
        Reject(3, "expected 2 fields, found 1", "1"),
        Reject(4, "expected 2 fields, found 3", "2,a,b"),
        Record(6, ["3", "c"]),
    ]
    assert records.blank_lines == 2


def test_reader_long_field_rejected():
    long_text = "x" * (MAX_FIELD_CHARACTERS + 1)
    data = f'id,review\n1,"{long_text}\n2,ok\n'.encode()
    _, items = read(data)
    assert items[0].line == 2
    assert items[0].reason.startswith("field longer than")
    assert len(items[0].text) == 10_000
    assert items[1] == Record(3, ["2", "ok"])


def test_reader_bom_removed():
    records, items = read("\ufeffid,review\n1,caf\u00e9\n".encode())
    assert records.header == ["id", "review"]
    assert items == [Record(2, ["1", "caf\u00e9"])]


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig", "utf_8"])
def test_reader_utf8_names_drop_bom(encoding):
    records, _ = read("\ufeffid,review\n".encode(), encoding=encoding)
    assert records.header == ["id", "review"]


def test_reader_undecodable_line_named():
    with pytest.raises(InputError, match=r"in.csv line 4: byte 0xe9 is not valid utf-8"):
        read(b"id,review\n1,a\n2,b\n3,caf\xe9\n")


def test_reader_truncated_utf8_at_end():
    with pytest.raises(InputError, match=r"line 2"):
        read(b"id,review\n1,caf\xc3")


def test_reader_ascii_incompatible_encoding():
    with pytest.raises(InputError, match="not ASCII-compatible"):
        read(b"id,review\n", encoding="utf-16")


def test_reader_nul_in_review_kept():
    _, items = read(b"id,review\n1,a\x00b\n")
    assert items == [Record(2, ["1", "a\x00b"])]


def test_reader_windows_line_endings():
    _, items = read(b"id,review\r\n1,a\r\n2,b\r\n")
    assert items == [Record(2, ["1", "a"]), Record(3, ["2", "b"])]
