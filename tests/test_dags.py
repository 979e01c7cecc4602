"""Every DAG imports without errors and is wired as the flow intends."""
from __future__ import annotations

from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_all_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    expected = {
        "fengqiao_ingest_hotline", "fengqiao_ingest_workorders", "fengqiao_ingest_mediation",
        "fengqiao_features", "fengqiao_scoring", "fengqiao_briefing", "fengqiao_alerts",
    }
    assert expected <= set(dagbag.dags)


def test_dags_have_retries_and_no_catchup(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.catchup is False, dag_id
        for t in dag.tasks:
            assert t.retries is not None, (dag_id, t.task_id)


def test_assets_connect_the_stages(dagbag):
    def outlet_names(dag):
        return {o.name for t in dag.tasks for o in t.outlets}

    silver = set().union(*(outlet_names(dagbag.dags[f"fengqiao_ingest_{f}"]) for f in ("hotline", "workorders", "mediation")))
    assert silver == {"fengqiao.silver.hotline_calls", "fengqiao.silver.work_orders", "fengqiao.silver.mediation_cases"}
    assert "fengqiao.gold.region_week_features" in outlet_names(dagbag.dags["fengqiao_features"])
    assert "fengqiao.gold.risk_scores" in outlet_names(dagbag.dags["fengqiao_scoring"])
    # The features DAG waits for all three silver tables; outputs wait for scores.
    features_schedule = repr(dagbag.dags["fengqiao_features"].timetable)
    assert "Asset" in features_schedule or "asset" in features_schedule.lower()
    for dag_id in ("fengqiao_briefing", "fengqiao_alerts"):
        assert "asset" in repr(dagbag.dags[dag_id].timetable).lower()
