"""Score the review files of a daily folder with Airflow 3, from Python or from the shell.

Each run scores the CSV files (`.csv`, `.csv.gz`, `.csv.zst`) in `INPUT_ROOT/YYYY-MM-DD/`, the
folder named for the run's logical date, and writes `NAME.scored.csv` and
`NAME.scored.rejects.csv` beside each input. Files with `.scored.` in their name are skipped,
so a rerun does not score its own outputs or rejects files. `INPUT_ROOT` is the
`input_root` param, by default the `SCORE_REVIEWS_ROOT` environment variable of the process
that parses this file, else `/data/reviews`. An empty or missing daily folder fails the run
with "no CSV files to score in FOLDER".

- `score_reviews` calls `score.score_files` in a `@task`. The task returns the run summary
  (`RunSummary.to_dict()`), so the counts per file land in XCom.
- `score_reviews_bash` runs the same job as `python -m score` in a BashOperator. The script
  stops at the first failing command (`set -euo pipefail`), and the scorer's exit code fails
  the task: 2 for a bad input file, 3 for a bad model, 4 for too many malformed rows. The last
  line it prints, the summary as one line of JSON, lands in XCom.

Retries are safe. The scorer writes each output to a temporary file in the same folder and
renames it into place only when the file is complete. A failed or killed attempt so leaves no
partial output, and a retry rewrites the same files from the same inputs.

Errors that a retry cannot fix fail the task without retries: a bad input file or a missing
or empty daily folder, a bad model, and too many malformed rows. The `@task` raises
`AirflowFailException` for them. The BashOperator has no parameter for exit codes that must not
be retried (only `skip_on_exit_code`), so its `retry_policy` reads the exit code from the
message of the exception that it raises, "... non-zero exit code N." (Airflow 3.3.2). Airflow
releases without `airflow.sdk.RetryPolicy` retry these exit codes too.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

try:
    from airflow.sdk import RetryDecision, RetryPolicy
except ImportError:  # Airflow releases before retry policies.
    RetryPolicy = None

DEFAULT_INPUT_ROOT = os.environ.get("SCORE_REVIEWS_ROOT", "/data/reviews")
# The scorer names its outputs NAME.scored.FORMAT and its rejects files NAME.scored.rejects.csv.
SCORED_MARK = ".scored."
INPUT_SUFFIXES = (".csv", ".csv.gz", ".csv.zst")
# The scorer's exit codes for a bad input, a bad model and too many malformed rows
# (EXIT_INPUT, EXIT_MODEL and EXIT_REJECT_RATE of score.errors, which parsing does not import).
NO_RETRY_EXIT_CODES = (2, 3, 4)

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

    if not folder.is_dir():
        raise InputError(
            f"no CSV files to score in {folder}, which is missing: "
            "check that the day's files were delivered"
        )
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


if RetryPolicy is not None:

    class NoRetryOnExitCodes(RetryPolicy):
        """A retry policy that fails a BashOperator at once when its command exits with one of
        `exit_codes`, and leaves other failures to the task's `retries`."""

        def __init__(self, exit_codes: tuple[int, ...]):
            self.exit_codes = tuple(exit_codes)

        def evaluate(self, exception, try_number, max_tries, context=None):
            match = re.search(r"non-zero exit code (\d+)", str(exception))
            if match is not None and int(match.group(1)) in self.exit_codes:
                return RetryDecision.fail(
                    f"exit code {match.group(1)} is an input, model or reject-rate error, "
                    "which a retry cannot fix"
                )
            return RetryDecision.default()

        def serialize(self) -> dict:
            return {"exit_codes": list(self.exit_codes)}

        @classmethod
        def deserialize(cls, data: dict) -> NoRetryOnExitCodes:
            return cls(tuple(data["exit_codes"]))

    BASH_RETRY_OPTIONS = {"retry_policy": NoRetryOnExitCodes(NO_RETRY_EXIT_CODES)}
else:
    BASH_RETRY_OPTIONS = {}


@dag(**DAG_SETTINGS)
def score_reviews():
    @task
    def score_daily_folder(params=None, ds=None) -> dict:
        # Imported here so that parsing the DAG file does not load onnxruntime.
        from score import score_files
        from score.errors import InputError, ModelError, RejectRateExceeded

        try:
            inputs = daily_inputs(Path(params["input_root"]) / ds)
            return score_files(inputs).to_dict()
        except (InputError, ModelError, RejectRateExceeded) as error:
            # A retry would read the same files and model, so fail without one.
            raise AirflowFailException(str(error)) from error

    score_daily_folder()


@dag(**DAG_SETTINGS)
def score_reviews_bash():
    BashOperator(task_id="score_daily_folder", bash_command=BASH_SCRIPT, **BASH_RETRY_OPTIONS)


score_reviews()
score_reviews_bash()
