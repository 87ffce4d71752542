"""The Python API: `score_files` and the per-file `score_file` used by worker processes."""

from __future__ import annotations

import json

import pytest

from score import (
    InputError,
    RejectRateExceeded,
    ScoringOptions,
    SentimentModel,
    score_file,
    score_files,
)
from score.sources import plan_jobs


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel()


def test_score_file_with_loaded_model(model, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,superb\n2,\n3,a,b\n4,awful\n")
    (job,) = plan_jobs([str(source)], None)
    options = ScoringOptions(max_reject_rate=0.5)
    summary = score_file(model, job, options)
    assert summary.records == 4
    assert summary.statuses == {"ok": 2, "empty": 1}
    assert summary.rejected == 1
    assert summary.written
    assert (tmp_path / "in.scored.csv").read_text().count("\n") == 4
    assert (tmp_path / "in.scored.rejects.csv").read_text().count("\n") == 2


def test_score_file_rejects_carry_counts(model, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,a,b\n")
    (job,) = plan_jobs([str(source)], None)
    with pytest.raises(RejectRateExceeded) as raised:
        score_file(model, job, ScoringOptions())
    assert raised.value.file_summary.rejected == 1
    assert not (tmp_path / "in.scored.csv").exists()


def test_score_files_summary_dict(model, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,superb\n2, \n3,awful\n")
    summary_path = tmp_path / "summary.json"
    run = score_files([source], tmp_path / "out.parquet", model=model, summary=summary_path)
    written = json.loads(summary_path.read_text())
    assert written == json.loads(json.dumps(run.to_dict()))
    assert written["records"] == 3
    assert written["statuses"] == {"ok": 2, "empty": 1}
    assert written["outputs"] == [str(tmp_path / "out.parquet")]
    assert written["positive"] == 1
    assert written["positive_share"] == 0.5
    assert len(written["score_deciles"]) == 9
    assert written["exit_code"] == 0
    assert written["model_id"] == model.model_id


def test_score_files_error_carries_summary(model, tmp_path):
    with pytest.raises(InputError) as raised:
        score_files([tmp_path / "missing.csv"], model=model)
    assert raised.value.exit_code == 2
    assert raised.value.summary.exit_code == 2
    assert "missing.csv not found" in raised.value.summary.error
