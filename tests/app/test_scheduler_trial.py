"""Airflow 3's real scheduler, dag-processor, triggerer and api-server (LocalExecutor on PostgreSQL) over drops
that arrive one day at a time: the asset chain runs once per day with something new, not at all on a day with
nothing new, and a failing task is retried, then reported. (A failing delivery, the day that catches up and a
quiet day: one full chain, to keep the suite short; `fengqiao scheduler-trial` delivers five days one by one.)

Slow (a few minutes: every task is its own process, every Spark stage starts its own JVM); skipped without
PostgreSQL server binaries. The wall time per day is printed (``pytest -s``) and recorded in the README.
"""
from __future__ import annotations

import shutil

import pytest

from fengqiao.app.loopback_postgres import server_unavailable
from fengqiao.delivery.mailsink import local_mail_sink
from tiny_model import register_tiny_model

pytestmark = pytest.mark.slow(first=True)  # the longest modules: started first (tests/conftest.py)
CHAIN = ("fengqiao_ingest", "fengqiao_features", "fengqiao_scoring", "fengqiao_alerts", "fengqiao_briefing")


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    reason = server_unavailable()
    if reason:
        pytest.skip(reason)
    from fengqiao.app.scheduler_trial import AirflowOnPostgres, day_folders
    from fengqiao.worlds import simulate_world

    work = tmp_path_factory.mktemp("scheduler")
    drop, source, lake, models = work / "drop", work / "source", work / "lake", work / "models"
    simulate_world("home", drop, seed=5, scale="small", weeks=3)
    register_tiny_model(models)
    source.mkdir()
    with local_mail_sink(work / "mail") as (host, port):
        airflow = AirflowOnPostgres(work, {
            "FENGQIAO_HOME": str(work / "home"), "FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake),
            "FENGQIAO_MODEL_DIR": str(models), "FENGQIAO_SMTP_HOST": host, "FENGQIAO_SMTP_PORT": str(port),
            "FENGQIAO_SMTP_STARTTLS": "false", "FENGQIAO_SPARK_DRIVER_MEMORY": "1g",
            "FENGQIAO_SPARK_SHUFFLE_PARTITIONS": "2", "SPARK_LOCAL_IP": "127.0.0.1",
        }, task_retries=1, retry_delay=2)
        try:
            airflow.start(echo=print)
            airflow.wait_for_dags()
            airflow.unpause()
            airflow.wait_until_settled(timeout=600)  # unpausing starts one scheduled ingest run over an empty folder
            yield {"airflow": airflow, "drop": drop, "source": source, "lake": lake, "days": day_folders(drop)}
        finally:
            airflow.stop()


def _day(trial, label, days=None, sabotage=None):
    from fengqiao.app.scheduler_trial import deliver, run_day

    def delivery():
        if sabotage:
            sabotage()
        return deliver(trial["drop"], trial["source"], days) if days else 0

    result = run_day(trial["airflow"], label, delivery)
    print(result.line())
    return result


def test_a_failing_day_is_retried_reported_and_caught_up_by_the_next_and_a_quiet_day_runs_nothing(trial):
    staging, days = trial["lake"] / "_staging", trial["days"]

    def block_staging():
        # Every write of a table goes through _staging: a file in its place makes landing and the builds fail.
        shutil.rmtree(staging, ignore_errors=True)
        staging.write_text("not a folder")

    broken = _day(trial, f"days up to {days[-2]} (the lake's staging area blocked)", days[:-1], sabotage=block_staging)
    assert broken.delivered_files > 0
    assert broken.runs == {"fengqiao_ingest": ["failed"]}, broken.runs      # nothing downstream was announced
    # Whichever task failed first was tried twice (one retry), then the run was reported failed.
    assert broken.failed and set(broken.failed) <= set(broken.retried), (broken.failed, broken.retried)
    assert all(task.startswith("fengqiao_ingest.") for task in broken.failed)

    staging.unlink()
    recovered = _day(trial, f"day {days[-1]} (staging area back)", days[-1:])
    # The chain ran once, in asset order, for the new day and the days that had failed before it.
    assert recovered.runs == {dag: ["success"] for dag in CHAIN}, recovered.runs
    from fengqiao.lake import Lake, read_table

    calls = read_table(Lake.at(trial["lake"]).silver("hotline_calls"))
    assert calls["source_file"].str.contains(days[0].isoformat()).any()
    assert calls["source_file"].str.contains(days[-1].isoformat()).any()
    assert (trial["lake"] / "outputs" / "briefings" / "latest.html").is_file()

    quiet = _day(trial, "a day with nothing delivered")
    # The daily ingest run lands nothing, builds nothing and announces nothing: nothing downstream runs.
    assert quiet.runs == {"fengqiao_ingest": ["success"]}, quiet.runs
