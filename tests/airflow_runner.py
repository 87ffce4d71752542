"""Run DAGs of `dags/` with `DAG.test()` and print each run's task states and XComs as JSON.

Started by tests/test_airflow_dag.py in a subprocess whose environment points AIRFLOW_HOME at a
temporary folder with a migrated SQLite database. Usage:

    python tests/airflow_runner.py RUNS_JSON

RUNS_JSON is a list of {"dag_id", "logical_date" (ISO 8601), "input_root", "retries"}, where
"retries" (default 0) replaces each task's retries, with no delay between tries. The last line
of stdout is a JSON list with {"state", "tasks": {task_id: state}, "tries": {task_id: try
number}, "xcom": {task_id: value}} per run.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Older Airflow 3 releases define DagBag in airflow.models.
    from airflow.models.dagbag import DagBag

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


def run_dag(bag: DagBag, dag_id: str, logical_date: str, input_root: str, retries: int = 0) -> dict:
    dag = bag.get_dag(dag_id)
    for task in dag.tasks:
        task.retries = retries
        task.retry_delay = timedelta(0)  # A retry would otherwise wait 5 minutes.
    run = dag.test(
        logical_date=datetime.fromisoformat(logical_date), run_conf={"input_root": input_root}
    )
    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value")
        xcom = {row.task_id: XComModel.deserialize_value(row) for row in session.scalars(query)}
        instances = run.get_task_instances(session=session)
        tasks = {ti.task_id: str(ti.state) for ti in instances}
        tries = {ti.task_id: ti.try_number for ti in instances}
    return {"state": str(run.state), "tasks": tasks, "tries": tries, "xcom": xcom}


def main() -> None:
    runs = json.loads(sys.argv[1])
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    results = [run_dag(bag, **run) for run in runs]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
