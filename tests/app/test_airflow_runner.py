"""`fengqiao run` drives the DAGs through Airflow's own runner: it stops at a failed stage and says which.

The stages are replaced by stand-ins so that this checks the orchestration alone; it runs in a
child process because Airflow reads AIRFLOW_HOME once per process.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from dataclasses import replace
    from pathlib import Path
    from jobs import stages as pipeline
    from fengqiao.app.airflow_runner import DAG_ORDER, PipelineRunError, prepare_airflow_home, run_dags
    from fengqiao.core.settings import Settings
    from fengqiao.lake import Lake

    work = Path(sys.argv[1])
    prepare_airflow_home(work / "airflow")
    lake = Lake.at(work / "lake")

    events = []

    def stage(name):
        def run(*args):
            events.append(name.split(" ")[0])
            return pipeline.record_stage(lake, name, {"rows": 3}, time.time())
        return run

    import pyspark  # noqa: F401  (a session may exist: the runner stops it before the DAGs that need none)
    import fengqiao.app.airflow_runner as runner
    runner.stop_spark = lambda release_jvm=False: events.append("stop_spark" if release_jvm else "stop_session")

    pipeline.land_feed = lambda feed: stage("bronze:" + feed)()
    pipeline.silver_has_new_files = lambda feed: feed != "mediation"  # nothing new for one feed
    broken_feed = sys.argv[2] if len(sys.argv) > 2 else None

    def build_silver(feed):
        if feed == broken_feed:
            raise RuntimeError(f"{feed} export unreadable")
        published.append(feed)
        return stage("silver:" + feed)()

    published = []
    pipeline.silver_tables_published_since = lambda moment: list(published)

    pipeline.build_silver = build_silver
    pipeline.validate_silver = stage("validate")
    # The tasks read the settings run_dags was given, from the environment it sets for the run only.
    pipeline.build_features = lambda: stage("features through " + str(Settings.from_env().through))()
    pipeline.ensure_model = lambda: {"model_version": "stand-in"}
    pipeline.score_regions = stage("scores")
    pipeline.find_emerging_hotspots = stage("hotspots")
    pipeline.publish_briefing = lambda week=None: stage("briefing")()

    def broken_alerts(week=None):
        raise RuntimeError("mail server said no")

    pipeline.send_alerts = broken_alerts
    started = time.time()
    settings = replace(Settings.from_env(), through="2025-03-09")
    try:
        run_dags(lake.root, dag_ids=("fengqiao_ingest",) if broken_feed else DAG_ORDER, run_conf={"week_start": None},
                 settings=settings)
    except PipelineRunError as exc:
        print("FAILED:", exc)
    print("SECONDS:", round(time.time() - started))
    print("EVENTS:", " ".join(events))
    print("AFTER THE RUN:", os.environ.get("FENGQIAO_THROUGH"), os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"))
    """
)


def _run_script(tmp_path, *args: str) -> str:
    env = {**os.environ, "FENGQIAO_LAKE": str(tmp_path / "lake"), "FENGQIAO_TASK_RETRIES": "0",
           "AIRFLOW_HOME": str(tmp_path / "airflow")}
    for name in ("FENGQIAO_THROUGH", "AIRFLOW__CORE__DAGS_FOLDER"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_runner_runs_the_dags_in_order_and_stops_at_the_failed_one(tmp_path):
    out = _run_script(tmp_path)
    order = ["fengqiao_ingest",
             "fengqiao_features", "fengqiao_scoring", "fengqiao_alerts"]
    positions = [out.index(f"] {dag_id} …") for dag_id in order]
    assert positions == sorted(positions)
    # The briefing comes after the alerts (it reports them), so a failed alert stage stops before it.
    assert "] fengqiao_briefing …" not in out
    # Each stage's summary is shown under its DAG; the failure names the DAG and where the logs are.
    assert "silver:hotline: rows 3" in out
    # The run's settings reached the tasks, through variables set for the run and unset again after it.
    assert "features through 2025-03-09: rows 3" in out
    assert "AFTER THE RUN: None None" in out
    # A feed with nothing new skips its silver build (no asset event); its DAG run still succeeds.
    assert "bronze:mediation: rows 3" in out and "silver:mediation" not in out
    assert "FAILED: fengqiao_alerts ended" in out
    assert "RuntimeError: mail server said no" in out
    assert "_runs/airflow-" in out
    # Task logs go to the log file, not the terminal.
    assert "[DAG TEST]" not in out
    log = next((tmp_path / "lake" / "_runs").glob("airflow-*.log")).read_text(encoding="utf-8")
    assert "mail server said no" in log
    # Spark is stopped once the DAGs that use it are done, before pandas scores (and again before the alerts).
    events = out.split("EVENTS: ")[1].splitlines()[0].split()
    assert events.index("stop_spark") > events.index("features")
    assert events.index("stop_spark") < events.index("scores")


def test_a_broken_feed_fails_the_ingest_run_but_not_the_other_feeds(tmp_path):
    out = _run_script(tmp_path, "hotline")
    # The other feeds' silver tables are built (and announced to the features DAG: announce_silver ran) ...
    assert "silver:workorders: rows 3" in out
    failed = out[out.index("tasks not successful:"):].split("]")[0]
    assert "announce_silver" not in failed
    # ... and the run is reported failed, naming the feed's build, so the scheduler retries and reports it.
    assert "FAILED: fengqiao_ingest ended failed" in out
    assert "build_silver_hotline_calls" in failed and "every_feed_ingested" in failed
    assert "hotline export unreadable" in out
