"""The feature job on a real Spark standalone cluster gives the same gold table as the local run.

A master and two workers (one core, 1 GB each) start on loopback from the pyspark package itself
(``spark-class``, as the docker-compose services do). A tiny lake (tests/drop_builder.py, landed and
merged into silver with the session's local Spark) is copied twice; the feature stage then runs on
the cluster

- in a child process, ``python -m jobs.submit features`` with ``SPARK_MASTER=spark://...``;
- through the features DAG's own task, the Spark provider's ``SparkSubmitOperator`` (spark-submit
  of ``jobs/submit.py``), as the scheduler runs it when ``SPARK_MASTER`` names a cluster;

and each gold table must equal the in-process local[2] run's. The executors read and write the
lake at the same path as the driver (one machine). The cluster is stopped by process group.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from drop_builder import write_drop, write_later_days
from local_processes import cluster_state, standalone_cluster
from fengqiao.lake import Lake, read_table

# Starting three JVMs, two Spark drivers and their executors on the shared 2-core machine: ~3 min.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FEATURES = "region_week_features"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    """A tiny lake with silver only (to copy for the cluster runs) and the local run's gold features."""
    from jobs.gold import region_week_features as gold_region_week_features
    from jobs.silver import hotline_calls as silver_hotline_calls
    from jobs.silver import mediation_cases as silver_mediation_cases
    from jobs.silver import work_orders as silver_work_orders
    from jobs.bronze.land_drops import land_drops
    from fengqiao.core.settings import Settings

    work = tmp_path_factory.mktemp("cluster-lakes")
    drop = write_later_days(write_drop(work / "drop"))
    shutil.rmtree(drop / "truth")
    silver_only = Lake.at(work / "silver-only")
    land_drops(drop, silver_only, log=lambda _: None)
    for job in (silver_hotline_calls, silver_work_orders, silver_mediation_cases):
        job.run(spark, silver_only, Settings.from_env())
    local = Lake.at(work / "local")
    shutil.copytree(silver_only.root, local.root)
    gold_region_week_features.run(spark, local)
    return {"work": work, "silver_only": silver_only, "local": local}


def _copy_without_gold(lakes: dict, name: str) -> Lake:
    lake = Lake.at(lakes["work"] / name)
    shutil.copytree(lakes["silver_only"].root, lake.root)
    assert not lake.gold(FEATURES).exists()
    return lake


def _features(lake: Lake) -> pd.DataFrame:
    df = read_table(lake.gold(FEATURES))
    return df[sorted(df.columns)].sort_values(["region_code", "week_start"]).reset_index(drop=True)


def _cluster_env(cluster: dict, lake: Lake) -> dict:
    return {"SPARK_MASTER": cluster["master"], "SPARK_LOCAL_IP": "127.0.0.1", "FENGQIAO_LAKE": str(lake.root),
            "FENGQIAO_SPARK_DRIVER_MEMORY": "1g", "FENGQIAO_SPARK_EXECUTOR_MEMORY": "512m",
            "FENGQIAO_SPARK_SHUFFLE_PARTITIONS": "4", "FENGQIAO_THROUGH": ""}


def _finished_apps(cluster: dict) -> list[dict]:
    return [a for a in cluster_state(cluster["web_port"])["completedapps"] if a["state"] == "FINISHED"]


def test_feature_stage_in_a_child_process_on_the_cluster_equals_the_local_run(cluster, lakes):
    lake = _copy_without_gold(lakes, "child")
    before = len(_finished_apps(cluster))
    env = {**os.environ, **_cluster_env(cluster, lake)}
    proc = subprocess.run([sys.executable, "-m", "jobs.submit", "features"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"STDOUT\n{proc.stdout[-3000:]}\nSTDERR\n{proc.stderr[-3000:]}"
    summary = json.loads(proc.stdout.split("fengqiao-stage-summary ", 1)[1].splitlines()[0])
    assert summary["stage"] == "features" and summary["rows"] > 0
    # It ran as an application of this master, with an executor on each worker (one core each).
    apps = _finished_apps(cluster)
    assert len(apps) == before + 1
    assert apps[-1]["name"] == "fengqiao" and apps[-1]["cores"] == 2
    cluster_gold, local_gold = _features(lake), _features(lakes["local"])
    assert len(cluster_gold) == summary["rows"]
    pd.testing.assert_frame_equal(cluster_gold, local_gold)


def test_the_features_dag_submits_its_task_to_the_cluster_with_the_spark_provider(cluster, lakes, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    lake = _copy_without_gold(lakes, "submitted")
    for key, value in _cluster_env(cluster, lake).items():
        monkeypatch.setenv(key, value)
    # No Airflow connection defined: the DAG derives spark_default from SPARK_MASTER (removed again after).
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", "")
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT")
    monkeypatch.setenv("AIRFLOW_HOME", str(lakes["work"] / "airflow"))
    dagbag = DagBag(dag_folder=str(ROOT / "dags" / "fengqiao_features.py"))
    assert dagbag.import_errors == {}
    op = dagbag.dags["fengqiao_features"].get_task("build_features")
    assert isinstance(op, SparkSubmitOperator)

    before = len(_finished_apps(cluster))
    op.execute(context={})  # spark-submit jobs/submit.py features; raises if it exits non-zero
    apps = _finished_apps(cluster)
    assert len(apps) == before + 1 and apps[-1]["name"] == "fengqiao-build_features"
    pd.testing.assert_frame_equal(_features(lake), _features(lakes["local"]))
