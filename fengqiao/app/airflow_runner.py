"""Run the pipeline's DAGs in order through Airflow, in this process.

``fengqiao run`` uses Airflow's own ``dag.test`` runner: every task executes exactly as the
scheduler would run it (same DAG files, same task callables, retries recorded in the metadata
database), without needing a scheduler to be up. The metadata database is SQLite under
``AIRFLOW_HOME`` (default ``<FENGQIAO_HOME>/airflow``); docker-compose.yml runs the same DAGs with
PostgreSQL and a real scheduler.

Airflow logs a great deal per task; that goes to ``<lake>/_runs/airflow-<time>.log`` and the
terminal shows one progress line per stage.

How the run's settings reach the tasks: the tasks call the stage functions of ``jobs.stages``, which
build their :class:`~fengqiao.core.settings.Settings` from the environment, as they must in a
deployment's task processes. So :func:`run_dags` takes the run's settings as an object and sets the
variables that describe them (:meth:`Settings.to_env`, plus Airflow's own: :func:`airflow_environment`)
for the duration of the run only, in this one place (:func:`fengqiao.core.envscope.scoped_environ`), and
restores the environment afterwards; ``airflow db migrate`` gets the same variables as a child
process's environment. Nothing else in the application sets a variable. Airflow reads ``AIRFLOW_HOME``
when it is first imported, so it is imported inside that scope.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from fengqiao.core.envscope import scoped_environ
from fengqiao.core.settings import Settings
from fengqiao.core.spark import stop_spark

DAG_ORDER = (
    "fengqiao_ingest",
    "fengqiao_features",
    "fengqiao_scoring",
    "fengqiao_alerts",
    "fengqiao_briefing",  # after the alerts, so that it reports the alerts the week sent
)
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
# The DAGs whose tasks use Spark. The others score and report in pandas, and the process's Spark session and its JVM
# are ended before them: the JVM keeps the heap it grew for silver and features, and pandas then scored on top of it
# (3 years of a simulated province: 8.3 GB in the process tree while scoring, 6.1 GB at most before; 2026-12-04).
# A later task that needs Spark (training a first model) starts a new one.
SPARK_DAGS = frozenset({"fengqiao_ingest", "fengqiao_features"})


class PipelineRunError(RuntimeError):
    pass


def airflow_environment(airflow_home: Path) -> dict[str, str]:
    """Airflow's variables for a run: its own folder and the project's DAGs (no examples, no unit-test mode
    unless the environment already says otherwise)."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": os.environ.get("AIRFLOW__CORE__LOAD_EXAMPLES", "False"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": os.environ.get("AIRFLOW__CORE__UNIT_TEST_MODE", "False"),
    }


def prepare_airflow_home(airflow_home: Path) -> None:
    """Create Airflow's folder and its SQLite database (once)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    if not (airflow_home / "airflow.db").exists():
        proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                              env={**os.environ, **airflow_environment(airflow_home)})
        if proc.returncode != 0:
            raise PipelineRunError(f"airflow db migrate failed:\n{proc.stderr[-2000:]}")


@contextlib.contextmanager
def logs_to(path: Path):
    """Send everything written to fds 1 and 2 to a log file; yield a writer to the real terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def _stage_lines(stages_log: Path, offset: int) -> tuple[list[str], int]:
    """One readable line per stage summary appended to the run log since ``offset`` (counts only)."""
    if not stages_log.exists():
        return [], offset
    with open(stages_log, encoding="utf-8") as fh:
        fh.seek(offset)
        new, offset = fh.read(), fh.tell()
    lines = []
    for raw in new.splitlines():
        stage = json.loads(raw)
        name = stage.pop("stage")
        seconds = stage.pop("seconds", None)
        keep = {k: v for k, v in stage.items() if isinstance(v, (int, float, str)) and k not in ("table", "path", "per_feed")}
        detail = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in keep.items())
        lines.append(f"      {name}: {detail} ({seconds} s)")
        if stage.get("quarantine_reasons"):
            reasons = ", ".join(f"{k.split(' |')[0]} {v:,}" for k, v in stage["quarantine_reasons"].items())
            lines.append(f"        quarantined by reason: {reasons}")
    return lines, offset


def _last_error(log_path: Path) -> str:
    """The last exception line of the task logs, so the terminal says why a stage failed."""
    sys.stdout.flush()
    text = log_path.read_text(encoding="utf-8", errors="replace")[-200_000:]
    found = re.findall(r"^\s*(?:[\w.]+(?:Error|Exception)): .+$", text, flags=re.M)
    return f": {found[-1].strip()[:500]}" if found else ""


def run_dags(lake_dir: Path, dag_ids: tuple[str, ...] = DAG_ORDER, run_conf: dict | None = None,
             settings: Settings | None = None) -> list[dict]:
    """Run the DAGs one after another with ``dag.test``; stop at the first failed DAG run.

    ``settings``: the run's (default: the environment's), set as variables for the run's duration only.
    """
    settings = settings or Settings.from_env()
    with scoped_environ({**settings.to_env(), **airflow_environment(settings.airflow_home)}):
        return _run_dags(lake_dir, dag_ids, run_conf)


def _run_dags(lake_dir: Path, dag_ids: tuple[str, ...], run_conf: dict | None) -> list[dict]:
    from airflow.dag_processing.dagbag import DagBag  # Airflow reads AIRFLOW_HOME at import: inside run_dags' scope

    log_path = lake_dir / "_runs" / f"airflow-{dt.datetime.now():%Y%m%dT%H%M%S}.log"
    results = []
    stages_log = lake_dir / "_runs" / "stages.jsonl"
    offset = stages_log.stat().st_size if stages_log.exists() else 0
    with logs_to(log_path) as terminal:
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
        if bag.import_errors:
            raise PipelineRunError(f"DAG import errors: {bag.import_errors}")
        for index, dag_id in enumerate(dag_ids, start=1):
            started = time.time()
            terminal.write(f"[{index}/{len(dag_ids)}] {dag_id} …\n")
            dag = bag.dags[dag_id]
            if dag_id not in SPARK_DAGS and "pyspark" in sys.modules:
                stop_spark(release_jvm=True)
            run = dag.test(logical_date=dt.datetime.now(dt.timezone.utc), run_conf=run_conf or {})
            state = str(getattr(run, "state", "unknown"))
            seconds = time.time() - started
            failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state) not in ("success", "TaskInstanceState.SUCCESS")] \
                if hasattr(run, "get_task_instances") else []
            results.append({"dag_id": dag_id, "state": state, "seconds": round(seconds, 1)})
            terminal.write(f"      {state} in {seconds:.0f} s\n")
            lines, offset = _stage_lines(stages_log, offset)
            for line in lines:
                terminal.write(line + "\n")
            if "success" not in state:
                raise PipelineRunError(
                    f"{dag_id} ended {state} (tasks not successful: {failed}){_last_error(log_path)}; "
                    f"see {log_path} for the task logs"
                )
        if "pyspark" in sys.modules:
            # Stop Spark while its shutdown chatter still goes to the log, not after the summary.
            stop_spark()
    return results
