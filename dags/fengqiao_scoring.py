"""Score every township and county week with the registered model (and the EARS baseline)."""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from fengqiao import pipeline
from fengqiao.assets import REGION_WEEK_FEATURES, RISK_SCORES


@dag(
    dag_id="fengqiao_scoring",
    description="Risk of escalation per region and week; 红/橙/黄/蓝 levels within the weekly alert budget",
    doc_md="Uses the current model of the registry (`FENGQIAO_MODEL_DIR`); never reads ground truth.",
    schedule=[REGION_WEEK_FEATURES],
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "fengqiao", "retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    tags=["fengqiao", "scoring"],
)
def fengqiao_scoring():
    @task(outlets=[RISK_SCORES])
    def score_regions() -> dict:
        return pipeline.score_regions()

    score_regions()


fengqiao_scoring()
