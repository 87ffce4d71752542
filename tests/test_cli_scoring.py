"""Scoring through `python -m score` on small files written by each test."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import error_lines, run_score, temporary_files


def read_rows(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_cp1252_needs_encoding_option(tmp_path):
    text = "id,review\n1,fine film\n2,it\u2019s a caf\u00e9 movie\n3,good\n"
    (tmp_path / "in.csv").write_bytes(text.encode("cp1252"))
    assert b"\x92" in (tmp_path / "in.csv").read_bytes()

    failed = run_score("in.csv", "--quiet", cwd=tmp_path)
    assert failed.returncode == 2
    assert "in.csv line 3: byte 0x92 is not valid utf-8" in failed.stderr
    assert "pass --encoding" in failed.stderr
    assert not (tmp_path / "in.scored.csv").exists()

    result = run_score("in.csv", "--encoding", "cp1252", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "in.scored.csv")
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert [row["status"] for row in rows] == ["ok", "ok", "ok"]


def test_bom_header_reads_id_column(tmp_path):
    (tmp_path / "in.csv").write_bytes("\ufeffid,review\n7,great\n".encode())
    result = run_score("in.csv", "--keep-columns", "review", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "in.scored.csv")
    assert list(rows[0]) == ["id", "review", "score", "label", "status"]
    assert rows[0]["id"] == "7"


BROKEN = (
    "id,review\n"
    '1,"first line\nsecond line"\n'
    '2,"she said ""superb"" twice"\n'
    "3,good, but long\n"
    '4,"opens a quote it never closes\n'
    "5,an ordinary row\n"
)


def test_broken_records_rejected_rest_scored(tmp_path):
    (tmp_path / "in.csv").write_text(BROKEN)
    summary_path = tmp_path / "summary.json"
    result = run_score(
        "in.csv", "--max-reject-rate", "0.5", "--keep-columns", "review", "--summary",
        str(summary_path), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "in.scored.csv")
    assert [row["id"] for row in rows] == ["1", "2", "5"]
    assert rows[0]["review"] == "first line\nsecond line"
    assert rows[1]["review"] == 'she said "superb" twice'
    assert rows[2]["review"] == "an ordinary row"

    rejects = read_rows(tmp_path / "in.scored.rejects.csv")
    assert [row["line"] for row in rejects] == ["5", "6"]
    assert rejects[0]["reason"] == "expected 2 fields, found 3"
    assert rejects[0]["record"] == "3,good, but long"
    assert rejects[1]["reason"] == "quote never closed before the end of the file"
    assert rejects[1]["record"] == '4,"opens a quote it never closes'

    summary = json.loads(summary_path.read_text())
    assert summary["records"] == 5
    assert summary["statuses"] == {"ok": 3, "empty": 0}
    assert summary["rejected"] == 2
    assert summary["outputs"] == ["in.scored.csv"]
    assert "5 records = 3 scored + 0 without score + 2 rejected" in result.stderr


def test_broken_records_fail_default_rate(tmp_path):
    (tmp_path / "in.csv").write_text(BROKEN)
    result = run_score("in.csv", "--quiet", cwd=tmp_path)
    assert result.returncode == 4
    assert "2 of 5 records rejected (40.0%)" in result.stderr
    assert not (tmp_path / "in.scored.csv").exists()
    assert len(read_rows(tmp_path / "in.scored.rejects.csv")) == 2
    assert temporary_files(tmp_path) == []


def test_missing_value_words_scored_as_text(tmp_path):
    text = "id,review\n1,NA\n2,\n3,None\n4,null\n5,   \n6,n/a\n7,nan\n"
    (tmp_path / "in.csv").write_text(text)
    result = run_score("in.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "in.scored.csv")
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [row["status"] for row in rows] == ["ok", "empty", "ok", "ok", "empty", "ok", "ok"]
    for row in rows:
        scored = row["status"] == "ok"
        assert (row["score"] != "") == scored, row
        assert (row["label"] != "") == scored, row


def test_ids_kept_across_chunks(tmp_path):
    text = "id,review,source\n000651,great fun,web\n000652,dull,mail\nA-17,fine,web\n"
    (tmp_path / "in.csv").write_text(text)
    result = run_score("in.csv", "--chunk-size", "2", "--keep-columns", "source", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = (tmp_path / "in.scored.csv").read_text()
    assert output.splitlines()[0] == "id,source,score,label,status"
    assert [line.split(",")[0] for line in output.splitlines()[1:]] == ["000651", "000652", "A-17"]
    assert [line.split(",")[1] for line in output.splitlines()[1:]] == ["web", "mail", "web"]
    assert '"' not in output


def test_row_numbers_without_id(tmp_path):
    (tmp_path / "in.csv").write_text("review\ngood\nbad,extra\nfine\n")
    result = run_score("in.csv", "--max-reject-rate", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_rows(tmp_path / "in.scored.csv")
    assert [row["row"] for row in rows] == ["0", "2"]


def test_output_formats_agree(tmp_path):
    (tmp_path / "in.csv").write_text("id,review\n1,superb\n2,\n3,awful\n")
    outputs = {"csv": "o.csv", "gz": "o.csv.gz", "parquet": "o.parquet", "jsonl": "o.jsonl"}
    for name in outputs.values():
        result = run_score("in.csv", "-o", name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    expected = read_rows(tmp_path / "o.csv")
    with gzip.open(tmp_path / "o.csv.gz", "rt", newline="") as file:
        assert list(csv.DictReader(file)) == expected
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.schema.field("id").type == pa.string()
    assert table.column("score").null_count == 1
    lines = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ok", "empty", "ok"]
    assert lines[1]["score"] is None
    assert lines[0]["score"] == pytest.approx(float(expected[0]["score"]), abs=1e-7)
    assert table.column("score").to_pylist()[2] == pytest.approx(float(expected[2]["score"]))
    assert sorted(path.name for path in tmp_path.glob("*.rejects.csv")) == ["o.rejects.csv"]


def test_stdin_to_stdout(tmp_path):
    result = run_score("-", "-o", "-", "--quiet", cwd=tmp_path, stdin="id,review\n1,lovely\n")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == ["1"]
    assert list(tmp_path.iterdir()) == []


def test_folder_glob_and_zstd_inputs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,review\n1,good\n")
    (tmp_path / "in" / "b.csv.gz").write_bytes(gzip.compress(b"id,review\n2,bad\n"))
    with pa.output_stream(str(tmp_path / "in" / "c.csv.zst")) as stream:
        stream.write(b"id,review\n3,fine\n")
    (tmp_path / "in" / "notes.txt").write_text("not an input")
    result = run_score("in", "in/*.csv.zst", "-o", "out", "--output-format", "jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == [
        "a.scored.jsonl",
        "a.scored.rejects.csv",
        "b.scored.jsonl",
        "b.scored.rejects.csv",
        "c.scored.jsonl",
        "c.scored.rejects.csv",
    ]
    assert json.loads((tmp_path / "out" / "c.scored.jsonl").read_text())["id"] == "3"


def test_later_failure_keeps_finished_outputs(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "a.csv").write_text("id,review\n1,good\n")
    (tmp_path / "b.csv").write_text("id,review\n2,good\n3,caf\xe9\n", encoding="latin-1")
    summary_path = tmp_path / "summary.json"
    result = run_score("a.csv", "b.csv", "-o", "out", "--summary", str(summary_path), cwd=tmp_path)
    assert result.returncode == 2
    assert len(error_lines(result.stderr)) == 1
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "a.scored.csv",
        "a.scored.rejects.csv",
    ]
    summary = json.loads(summary_path.read_text())
    assert summary["exit_code"] == 2
    assert summary["outputs"] == ["out/a.scored.csv"]
    assert "b.csv line 3" in summary["error"]
    assert [file["written"] for file in summary["files"]] == [True, False]


def test_semicolon_separator(tmp_path):
    (tmp_path / "in.csv").write_text("id;review\n1;good, really good\n")
    result = run_score("in.csv", "--sep", ";", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in read_rows(tmp_path / "in.scored.csv")] == ["1"]


def test_logs_start_file_and_end_lines(tmp_path):
    (tmp_path / "in.csv").write_text("id,review\n1,good\n2,bad\n3,fine\n")
    result = run_score("in.csv", "--chunk-size", "1", "--progress-seconds", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "scoring 1 input(s): in.csv; model default-" in lines[0]
    assert "(sha256 " in lines[0]
    assert "chunk_size=1" in lines[0]
    assert sum("in.csv: 1 records read" in line for line in lines) == 1
    assert any("in.csv: 3 records, 3 scored, 0 without score, 0 rejected" in line for line in lines)
    assert "done: 1 file(s), 3 records = 3 scored + 0 without score + 0 rejected" in lines[-1]


def test_stdin_rejects_logged(tmp_path):
    stdin = "id,review\n1,good\n2,too,many\n"
    result = run_score("-", "--max-reject-rate", "1", cwd=tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "standard input line 3 rejected: expected 2 fields, found 3" in result.stderr
    assert result.stdout.splitlines()[1].startswith("1,")
    assert len(result.stdout.splitlines()) == 2


def test_header_only_file(tmp_path):
    (tmp_path / "in.csv").write_text("id,review\n")
    result = run_score("in.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "in.scored.csv").read_text() == "id,score,label,status\n"
