"""Every DAG imports without errors and is wired as the flow intends."""
from __future__ import annotations

from pathlib import Path

import pytest

from dag_graph import ancestors

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_all_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    expected = {
        "fengqiao_ingest", "fengqiao_features", "fengqiao_scoring", "fengqiao_briefing", "fengqiao_alerts",
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

    silver = outlet_names(dagbag.dags["fengqiao_ingest"])
    assert silver == {"fengqiao.silver.hotline_calls", "fengqiao.silver.work_orders", "fengqiao.silver.mediation_cases",
                      "fengqiao.silver"}
    # The features DAG runs once per ingest run that changed silver: on the one announcement, not per table.
    assert "'fengqiao.silver'" in repr(dagbag.dags["fengqiao_features"].timetable)
    assert "hotline_calls" not in repr(dagbag.dags["fengqiao_features"].timetable)
    assert "fengqiao.gold.region_week_features" in outlet_names(dagbag.dags["fengqiao_features"])
    assert "fengqiao.gold.risk_scores" in outlet_names(dagbag.dags["fengqiao_scoring"])
    # The features DAG waits for all three silver tables; outputs wait for scores.
    features_schedule = repr(dagbag.dags["fengqiao_features"].timetable)
    assert "Asset" in features_schedule or "asset" in features_schedule.lower()
    for dag_id in ("fengqiao_briefing", "fengqiao_alerts"):
        assert "asset" in repr(dagbag.dags[dag_id].timetable).lower()
    # Alerts follow the scores; the briefing follows the alerts, so that it reports the alerts the week sent.
    assert "fengqiao.gold.risk_scores" in repr(dagbag.dags["fengqiao_alerts"].timetable)
    assert "fengqiao.gold.alerts" in repr(dagbag.dags["fengqiao_briefing"].timetable)
    assert "fengqiao.gold.risk_scores" not in repr(dagbag.dags["fengqiao_briefing"].timetable)


def test_scoring_registers_a_model_first_and_scoring_itself_never_trains(dagbag, tmp_path):
    """The model bootstrap is the scoring DAG's own first task, not a side effect of the score stage."""
    from dataclasses import replace

    from fengqiao.core.settings import Settings
    from jobs import stages
    from models.registry import NoModelError

    scoring = dagbag.dags["fengqiao_scoring"]
    assert scoring.get_task("ensure_model").downstream_task_ids == {"score_regions"}
    assert "ensure_model" not in ancestors(scoring.get_task("find_emerging_hotspots"))  # features are enough
    empty = replace(Settings.from_env(), model_dir=tmp_path / "models", lake_dir=tmp_path / "lake")
    with pytest.raises(NoModelError):
        stages.score_regions(empty)
    assert not (tmp_path / "models").exists()  # nothing was trained


def test_dag_files_import_only_the_orchestration_the_stages_and_the_core():
    import ast

    for path in sorted(DAGS_FOLDER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("fengqiao", "jobs"):
                names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "jobs" else [node.module]
                for name in names:
                    assert name in ("fengqiao.orchestration", "jobs.stages") or name.startswith("fengqiao.core."), \
                        (path.name, name)
            elif isinstance(node, ast.Import):
                assert not [a.name for a in node.names if a.name.split(".")[0] in ("fengqiao", "jobs")], path.name


# --- Spark-heavy tasks: in this process by default, submitted to the cluster when SPARK_MASTER names one ---

SPARK_TASKS = {
    "fengqiao_features": {"validate_silver": ["validate"], "build_features": ["features"]},
    "fengqiao_ingest": {"build_silver_hotline_calls": ["silver", "hotline"],
                        "build_silver_work_orders": ["silver", "workorders"],
                        "build_silver_mediation_cases": ["silver", "mediation"]},
}


def _fresh_dagbag(monkeypatch, tmp_path, **env):
    """DagBag parsed with ``env`` (None = unset); the DAG files read SPARK_MASTER when they are parsed."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    # Restored (unset) after the test even though spark_stage may set it while parsing.
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", "")
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT")
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    dagbag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert dagbag.import_errors == {}
    return dagbag


def test_without_a_cluster_the_spark_stages_run_in_the_task_process(monkeypatch, tmp_path):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    dagbag = _fresh_dagbag(monkeypatch, tmp_path, SPARK_MASTER=None, SPARK_REMOTE=None)
    for dag_id, tasks in SPARK_TASKS.items():
        for task_id, args in tasks.items():
            op = dagbag.dags[dag_id].get_task(task_id)
            assert not isinstance(op, SparkSubmitOperator), (dag_id, task_id)
            assert list(op.op_args) == [args[0], args[1:]]  # jobs.submit.run_stage(stage, *args), in-process
    features = dagbag.dags["fengqiao_features"]
    assert features.get_task("validate_silver").retries == 0
    assert "validate_silver" in ancestors(features.get_task("build_features"))
    assert {"land_bronze_hotline", "has_new_files_hotline"} <= ancestors(
        dagbag.dags["fengqiao_ingest"].get_task("build_silver_hotline_calls"))


def test_with_a_spark_connect_server_the_spark_stages_are_its_clients_in_the_task_process(monkeypatch, tmp_path):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    # A Connect server is the driver: even beside a cluster master, nothing is submitted.
    dagbag = _fresh_dagbag(monkeypatch, tmp_path, SPARK_MASTER="spark://spark-master:7077",
                           SPARK_REMOTE="sc://spark-connect:15002")
    for dag_id, tasks in SPARK_TASKS.items():
        for task_id, args in tasks.items():
            op = dagbag.dags[dag_id].get_task(task_id)
            assert not isinstance(op, SparkSubmitOperator), (dag_id, task_id)
            assert list(op.op_args) == [args[0], args[1:]]


def test_with_a_cluster_master_the_spark_stages_are_submitted_with_the_spark_provider(monkeypatch, tmp_path):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    master = "spark://spark-master:7077"
    dagbag = _fresh_dagbag(monkeypatch, tmp_path, SPARK_MASTER=master, SPARK_REMOTE=None,
                           FENGQIAO_SPARK_EXECUTOR_MEMORY="3g",
                           FENGQIAO_SPARK_DRIVER_MEMORY="2g")
    submit_py = Path(__file__).resolve().parents[2] / "jobs" / "submit.py"
    for dag_id, tasks in SPARK_TASKS.items():
        for task_id, args in tasks.items():
            op = dagbag.dags[dag_id].get_task(task_id)
            assert isinstance(op, SparkSubmitOperator), (dag_id, task_id)
            assert Path(op.application) == submit_py.resolve()
            assert op.application_args == args
            assert op._conn_id == "spark_default"
            assert op.conf["spark.executor.memory"] == "3g" and op.conf["spark.driver.memory"] == "2g"
            assert "spark.master" not in op.conf  # the connection gives --master
    features = dagbag.dags["fengqiao_features"]
    build = features.get_task("build_features")
    assert {o.name for o in build.outlets} == {"fengqiao.gold.region_week_features"}
    assert features.get_task("validate_silver").retries == 0
    assert "validate_silver" in ancestors(build)
    ingest = dagbag.dags["fengqiao_ingest"].get_task("build_silver_work_orders")
    assert {"land_bronze_workorders", "extract_work_orders_db"} <= ancestors(ingest)

    # The connection is derived from SPARK_MASTER: spark-submit gets it as --master, then the file and stage.
    hook = build._get_hook()
    assert hook._connection["master"] == master
    command = hook._build_spark_submit_command(build.application)
    assert command[command.index("--master") + 1] == master
    assert command[-2:] == [str(submit_py.resolve()), "features"]
    assert "spark.executor.memory=3g" in command


def test_a_defined_spark_connection_wins_over_the_derived_one(monkeypatch, tmp_path):
    # As a deployment may define it (a URI); parsing the DAGs must not replace it.
    dagbag = _fresh_dagbag(monkeypatch, tmp_path, SPARK_MASTER="spark://spark-master:7077",
                           AIRFLOW_CONN_SPARK_DEFAULT="spark://other-master:7078")
    hook = dagbag.dags["fengqiao_features"].get_task("build_features")._get_hook()
    assert hook._connection["master"] == "spark://other-master:7078"
