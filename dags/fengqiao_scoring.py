"""Score every township and county week with the registered model (and the EARS baseline)."""
from __future__ import annotations

from airflow.sdk import dag, task

from jobs import stages as pipeline
from fengqiao.orchestration import HOTSPOT_PATTERNS, REGION_WEEK_FEATURES, RISK_SCORES, START_DATE, default_args


@dag(
    dag_id="fengqiao_scoring",
    description="Risk of escalation per region and week; 红/橙/黄/蓝 levels within the weekly alert budget; emerging hot spots",
    doc_md="Uses the current model of the registry (`FENGQIAO_MODEL_DIR`); never reads ground truth.",
    schedule=[REGION_WEEK_FEATURES],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["fengqiao", "scoring"],
)
def fengqiao_scoring():
    @task(outlets=[RISK_SCORES], doc_md="Escalation model and EARS baseline scores, levels and Chinese reasons.")
    def score_regions() -> dict:
        return pipeline.score_regions()

    @task(outlets=[HOTSPOT_PATTERNS], doc_md="Emerging hot spots: Gi* per week and Mann-Kendall trend categories.")
    def find_emerging_hotspots() -> dict:
        return pipeline.find_emerging_hotspots()

    score_regions()
    find_emerging_hotspots()


fengqiao_scoring()
