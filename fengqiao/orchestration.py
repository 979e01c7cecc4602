"""What every DAG shares: the Assets that connect the stages, and task defaults.

Assets: ingest → silver tables (and fengqiao.silver once a day) → features → risk scores → alerts → briefing.
A DAG file reads the settings once per parse (:meth:`~fengqiao.core.settings.Settings.from_env`: the
scheduler's or the runner's environment) and hands them to these factories; the tasks' stage functions
read theirs when they run. Retries come from the settings: a deployment's scheduler retries a failed task
after a delay (``FENGQIAO_TASK_RETRIES``, ``FENGQIAO_RETRY_DELAY_SECONDS``); ``fengqiao run`` sets no
retries so that a one-shot run fails at once with the reason instead of waiting out retry delays.

Spark-heavy stages (silver builds, the audit, features) are made by :func:`spark_stage`: in the
task's own process by default (the one-machine demo, ``dag.test``), or submitted to a Spark cluster
with the Spark provider's ``SparkSubmitOperator`` when ``SPARK_MASTER`` names one. Both run
``jobs/submit.py``'s :func:`~jobs.submit.run_stage`, so no stage is written twice.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pendulum
from airflow.sdk import Asset, task

from fengqiao.core.settings import Settings
from fengqiao.core.spark import is_cluster_master, pyspark_home, spark_conf
# The feeds and their silver tables, for the DAG files (which import nothing of the lake itself).
from fengqiao.lake import SILVER_TABLES
from jobs import submit

START_DATE = pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai")


def _asset(layer: str, table: str) -> Asset:
    return Asset(name=f"fengqiao.{layer}.{table}", uri=f"fengqiao://lake/{layer}/{table}")


SILVER = {feed: _asset("silver", table) for feed, table in SILVER_TABLES.items()}
# A day's ingestion changed at least one silver table: what the features DAG waits for (one event a day).
SILVER_UPDATED = Asset(name="fengqiao.silver", uri="fengqiao://lake/silver")
REGION_WEEK_FEATURES = _asset("gold", "region_week_features")
RISK_SCORES = _asset("gold", "risk_scores")
HOTSPOT_PATTERNS = _asset("gold", "hotspot_patterns")
BRIEFING = _asset("outputs", "briefing")
ALERTS = _asset("gold", "alerts")


def default_args(settings: Settings, extra_retries: int = 0) -> dict:
    """Task defaults; ``extra_retries`` for tasks that talk to outside services (mail)."""
    retries = settings.task_retries + (extra_retries if settings.task_retries else 0)
    return {
        "owner": "fengqiao",
        "retries": retries,
        "retry_delay": pendulum.duration(seconds=settings.retry_delay_seconds),
        "retry_exponential_backoff": True,
    }


# The Airflow connection SparkSubmitOperator submits through. A deployment defines it
# (AIRFLOW_CONN_SPARK_DEFAULT in docker-compose.yml); otherwise it is derived from SPARK_MASTER.
SPARK_CONN_ID = "spark_default"


def spark_connection_json(master: str) -> str:
    """The connection for ``master`` in Airflow's JSON form: the whole master URL as host.

    The provider's hook takes a ``spark`` connection's host as the master when it holds a scheme
    (or has no port), so this works for ``spark://h:7077``, ``spark://h1:7077,h2:7077``, ``yarn``
    and ``k8s://https://...`` alike, where a URI form would split or reject some of them.
    """
    return json.dumps({"conn_type": "spark", "host": master})


def _spark_submit_binary() -> str:
    """``spark-submit`` of the running environment (pyspark's, beside this interpreter), else from PATH."""
    beside = Path(sys.executable).parent / "spark-submit"
    return str(beside) if beside.is_file() else (shutil.which("spark-submit") or "spark-submit")


def _spark_home() -> str:
    """The pyspark package's folder: spark-submit's SPARK_HOME (its own lookup asks whichever python3 is first on PATH)."""
    return os.environ.get("SPARK_HOME") or pyspark_home()


def _run_stage_in_process(stage: str, args: list[str]) -> dict:
    return submit.run_stage(stage, *args)


def spark_stage(task_id: str, stage: str, *args: str, settings: Settings, outlets=(), doc_md: str | None = None,
                **task_kwargs):
    """A task running ``jobs/submit.py <stage> <args>``; call it inside a DAG, chain it with ``>>``.

    With a local master (``SPARK_MASTER`` unset or ``local[...]``) it is an ordinary ``@task`` that
    runs the stage in the task's process and returns its summary as XCom. With a cluster master it is
    a ``SparkSubmitOperator`` on :data:`SPARK_CONN_ID` whose driver runs the same file (client mode:
    the driver stays on the Airflow worker, which sees the lake at the same path as the executors)
    with :func:`fengqiao.core.spark.spark_conf`, so the driver's memory and JVM options apply from its start.
    The stage's summary is then in the task log and in ``<lake>/_runs/stages.jsonl``. With ``SPARK_REMOTE`` (a
    long-running Spark Connect server, which is the driver and already has its master) the task is the server's
    client, in the task's process, whatever ``SPARK_MASTER`` says.
    """
    if settings.spark_remote or not is_cluster_master(settings.spark_master):
        return task(task_id=task_id, outlets=list(outlets), doc_md=doc_md, **task_kwargs)(
            _run_stage_in_process)(stage, list(args))

    # Only a cluster deployment needs the Spark provider (and its import time at every parse).
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    # SparkSubmitHook reads its connection (the master) from Airflow, which reads AIRFLOW_CONN_* variables: a
    # connection the deployment defines is kept, else the one of SPARK_MASTER is defined for this process
    # and the task processes that parse this DAG again (each derives the same value from its own settings).
    os.environ.setdefault(f"AIRFLOW_CONN_{SPARK_CONN_ID.upper()}", spark_connection_json(settings.spark_master))
    conf = spark_conf(settings)
    conf.pop("spark.master")  # the connection gives spark-submit its --master
    return SparkSubmitOperator(
        task_id=task_id,
        application=str(Path(submit.__file__).resolve()),
        application_args=[stage, *args],
        conn_id=SPARK_CONN_ID,
        conf=conf,
        driver_memory=settings.spark_driver_memory,
        executor_memory=settings.spark_executor_memory,
        name=f"fengqiao-{task_id}",
        spark_binary=_spark_submit_binary(),
        env_vars={"SPARK_HOME": _spark_home()},
        outlets=list(outlets),
        doc_md=doc_md,
        **task_kwargs,
    )
