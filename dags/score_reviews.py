"""Score the review files of a daily folder with Airflow 3, from Python or from the shell.

Each run scores the CSV files (`.csv`, `.csv.gz`, `.csv.zst`) in `INPUT_ROOT/YYYY-MM-DD/`, the
folder named for the run's logical date, and writes `NAME.scored.csv` and
`NAME.scored.rejects.csv` beside each input. Files with `.scored.` in their name are skipped,
so a rerun does not score its own outputs or rejects files. `INPUT_ROOT` is the
`input_root` param, by default the `SCORE_REVIEWS_ROOT` environment variable of the process
that parses this file, else `/data/reviews`. An empty or missing daily folder fails the run.

- `score_reviews` calls `score.score_files` in a `@task`. The task returns the run summary
  (`RunSummary.to_dict()`), so the counts per file land in XCom.
- `score_reviews_bash` runs the same job as `python -m score` in a BashOperator. The script
  stops at the first failing command (`set -euo pipefail`), and the scorer's exit code fails
  the task: 2 for a bad input file, 3 for a bad model, 4 for too many malformed rows. The last
  line it prints, the summary as one line of JSON, lands in XCom.

Retries are safe. The scorer writes each output to a temporary file in the same folder and
renames it into place only when the file is complete. A failed or killed attempt so leaves no
partial output, and a retry rewrites the same files from the same inputs.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param, dag, task

DEFAULT_INPUT_ROOT = os.environ.get("SCORE_REVIEWS_ROOT", "/data/reviews")
# The scorer names its outputs NAME.scored.FORMAT and its rejects files NAME.scored.rejects.csv.
SCORED_MARK = ".scored."
INPUT_SUFFIXES = (".csv", ".csv.gz", ".csv.zst")

DAG_SETTINGS = {
    "schedule": "@daily",
    "start_date": datetime(2025, 1, 1),
    "catchup": False,
    "default_args": {"retries": 2, "retry_delay": timedelta(minutes=5)},
    "params": {
        "input_root": Param(
            DEFAULT_INPUT_ROOT,
            type="string",
            description="folder that contains one subfolder per day",
        )
    },
    "tags": ["sentiment"],
}

BASH_SCRIPT = """\
set -euo pipefail
shopt -s nullglob extglob
folder="{{ params.input_root }}/{{ ds }}"
inputs=()
for file in "$folder"/*.@(csv|csv.gz|csv.zst); do
    name="${file##*/}"
    if [[ "$name" != *.scored.* ]]; then
        inputs+=("$file")
    fi
done
set -- "${inputs[@]}"
if (( $# == 0 )); then
    echo "no CSV files to score in $folder: check that the day's files were delivered" >&2
    exit 2
fi
summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
python -m score --quiet --summary "$summary" "$@"
python -m json.tool --compact "$summary"
"""


def daily_inputs(folder: Path) -> list[Path]:
    """Return the CSV files to score in `folder`, sorted, leaving out outputs and rejects."""
    from score.errors import InputError

    inputs = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.name.endswith(INPUT_SUFFIXES) and SCORED_MARK not in path.name
    )
    if not inputs:
        raise InputError(
            f"no CSV files to score in {folder}: check that the day's files were delivered"
        )
    return inputs


@dag(**DAG_SETTINGS)
def score_reviews():
    @task
    def score_daily_folder(params=None, ds=None) -> dict:
        # Imported here so that parsing the DAG file does not load onnxruntime.
        from score import score_files

        inputs = daily_inputs(Path(params["input_root"]) / ds)
        return score_files(inputs).to_dict()

    score_daily_folder()


@dag(**DAG_SETTINGS)
def score_reviews_bash():
    BashOperator(task_id="score_daily_folder", bash_command=BASH_SCRIPT)


score_reviews()
score_reviews_bash()
