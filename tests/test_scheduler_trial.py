"""Airflow 3's real scheduler, dag-processor, triggerer and api-server (LocalExecutor on PostgreSQL) over drops
that arrive one day at a time: the asset chain runs once per day with something new, not at all on a day with
nothing new, and a failing task is retried, then reported.

Slow (a few minutes: every task is its own process, every Spark stage starts its own JVM); skipped without
PostgreSQL server binaries. The wall time per day is printed (``pytest -s``) and recorded in the README.
"""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from fengqiao.loopback_postgres import server_unavailable
from fengqiao.outputs.mailsink import local_mail_sink
from tiny_model import register_tiny_model

pytestmark = pytest.mark.slow
CHAIN = ("fengqiao_ingest", "fengqiao_features", "fengqiao_scoring", "fengqiao_alerts", "fengqiao_briefing")


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    reason = server_unavailable()
    if reason:
        pytest.skip(reason)
    from fengqiao.scheduler_trial import AirflowOnPostgres, day_folders
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
    from fengqiao.scheduler_trial import deliver, run_day

    def delivery():
        if sabotage:
            sabotage()
        return deliver(trial["drop"], trial["source"], days) if days else 0

    result = run_day(trial["airflow"], label, delivery)
    print(result.line())
    return result


def test_each_new_day_runs_the_chain_once_and_a_quiet_day_runs_nothing(trial):
    days = trial["days"]
    backlog = _day(trial, "backlog (first 17 days)", days[:17])
    assert backlog.delivered_files > 0
    assert {dag: len(states) for dag, states in backlog.runs.items()} == {dag: 1 for dag in CHAIN}, backlog.runs
    assert all(states == ["success"] for states in backlog.runs.values()), backlog.runs
    assert (trial["lake"] / "outputs" / "briefings" / "latest.html").is_file()

    daily = _day(trial, f"day {days[17]}", days[17:18])
    assert {dag: states for dag, states in daily.runs.items()} == {dag: ["success"] for dag in CHAIN}, daily.runs

    quiet = _day(trial, "a day with nothing delivered")
    # The daily ingest run lands nothing, builds nothing and announces nothing: nothing downstream runs.
    assert quiet.runs == {"fengqiao_ingest": ["success"]}, quiet.runs


def test_a_failing_task_is_retried_then_reported_and_the_next_day_catches_up(trial):
    staging = trial["lake"] / "_staging"
    days = trial["days"]

    def block_staging():
        # Every write of a table goes through _staging: a file in its place makes the builds fail, every try.
        shutil.rmtree(staging, ignore_errors=True)
        staging.write_text("not a folder")

    broken = _day(trial, f"day {days[18]} (lake's staging area blocked)", days[18:19], sabotage=block_staging)
    assert broken.runs.get("fengqiao_ingest") == ["failed"], broken.runs
    # Landing and the silver builds write through _staging: whichever fails first was tried twice (one retry).
    assert broken.failed and set(broken.failed) <= set(broken.retried), (broken.failed, broken.retried)
    assert all(task.startswith("fengqiao_ingest.") for task in broken.failed)

    staging.unlink()
    recovered = _day(trial, f"day {days[19]} (staging area back)", days[19:20])
    assert recovered.runs == {dag: ["success"] for dag in CHAIN}, recovered.runs
    # The day that failed is merged with the next one: its files are in silver now.
    from fengqiao.lake import Lake, read_table

    calls = read_table(Lake.at(trial["lake"]).silver("hotline_calls"))
    assert calls["source_file"].str.contains(days[18].isoformat()).any()
    assert max(dt.date.fromisoformat(p.name) for p in (trial["lake"] / "bronze" / "hotline").iterdir()
               if p.is_dir()) == days[19]
