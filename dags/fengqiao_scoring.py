"""Score every township and county week with the registered model (and the EARS baseline).

The first task makes sure a model is registered: a fresh deployment trains one (once) on simulated
provinces before its first scores; afterwards it only reads the current version.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from fengqiao.core.settings import Settings
from fengqiao.orchestration import HOTSPOT_PATTERNS, REGION_WEEK_FEATURES, RISK_SCORES, START_DATE, default_args
from jobs import stages as pipeline

SETTINGS = Settings.from_env()  # once per parse of this file; the tasks read theirs when they run


@dag(
    dag_id="fengqiao_scoring",
    description="Risk of escalation per region and week; 红/橙/黄/蓝 levels within the weekly alert budget; "
    "emerging hot spots",
    doc_md="Uses the current model of the registry (`FENGQIAO_MODEL_DIR`), registering one first if there is "
    "none; never reads ground truth.",
    schedule=[REGION_WEEK_FEATURES],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(SETTINGS),
    tags=["fengqiao", "scoring"],
)
def fengqiao_scoring():
    @task(doc_md="The current model's version; with none registered, train one on simulated provinces (once).")
    def ensure_model() -> dict:
        return pipeline.ensure_model()

    @task(outlets=[RISK_SCORES], doc_md="Escalation model and EARS baseline scores, levels and Chinese reasons.")
    def score_regions() -> dict:
        return pipeline.score_regions()

    # Hot spots come from the features alone: they do not wait for the model.
    @task(outlets=[HOTSPOT_PATTERNS], doc_md="Emerging hot spots: Gi* per week and Mann-Kendall trend categories.")
    def find_emerging_hotspots() -> dict:
        return pipeline.find_emerging_hotspots()

    ensure_model() >> score_regions()
    find_emerging_hotspots()


fengqiao_scoring()
