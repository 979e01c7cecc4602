"""What people receive: alerts for justice bureaus, then the weekly briefing for leaders.

Alerts run when new scores are published; the briefing runs when the alerts of the week have been sent,
so that it reports them (a briefing rendered before would say no alert had gone out). Both take a
`week_start` parameter so that any past week can be done again.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from fengqiao.core.settings import Settings
from fengqiao.orchestration import ALERTS, BRIEFING, RISK_SCORES, START_DATE, default_args
from jobs import stages as pipeline

SETTINGS = Settings.from_env()  # once per parse of this file; the tasks read theirs when they run

COMMON = dict(
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params={"week_start": Param(None, type=["null", "string"], format="date",
                                description="Monday of the week (YYYY-MM-DD); empty = latest scored week")},
)


@dag(
    dag_id="fengqiao_briefing",
    description="矛盾纠纷风险研判周报: the weekly risk briefing (HTML)",
    schedule=[ALERTS],
    default_args=default_args(SETTINGS),
    tags=["fengqiao", "outputs"],
    **COMMON,
)
def fengqiao_briefing():
    @task(outlets=[BRIEFING])
    def render_briefing(params=None) -> dict:
        return pipeline.publish_briefing((params or {}).get("week_start"))

    render_briefing()


@dag(
    dag_id="fengqiao_alerts",
    description="One message per flagged region to its county 司法局 or township 司法所",
    schedule=[RISK_SCORES],
    default_args=default_args(SETTINGS, extra_retries=1),
    tags=["fengqiao", "outputs"],
    **COMMON,
)
def fengqiao_alerts():
    @task(doc_md="Store bureaus' dispositions of earlier alerts (已核实/已排除/已处置) from the inbox.")
    def ingest_dispositions() -> dict:
        return pipeline.ingest_dispositions()

    @task(outlets=[ALERTS], doc_md="Plan, de-duplicate (cool-down) and deliver alerts by e-mail and webhook.")
    def send_alerts(_dispositions: dict, params=None) -> dict:
        return pipeline.send_alerts((params or {}).get("week_start"))

    send_alerts(ingest_dispositions())


fengqiao_briefing()
fengqiao_alerts()
