"""The silver jobs as clients of a long-running Spark Connect server (SPARK_REMOTE) give the local run's tables.

A Spark Connect server starts on loopback from the pyspark package itself (``spark-submit --class
...SparkConnectServer``, as ``sbin/start-connect-server.sh`` does). A tiny lake (tests/drop_builder.py, landed,
silver built with the session's local Spark and the suite's key) is copied without its silver; the hotline and
mediation jobs, the two that pseudonymise, then run in a child process with ``SPARK_REMOTE`` and the same key in a
file (mode 0600), and their tables must equal the local run's, pseudonyms included: the workers read the key from
the file, no plan carries it. A key given only as a variable is refused under Connect.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from drop_builder import write_drop
from local_processes import free_port, stop_process_group
from fengqiao.core.settings import Settings
from fengqiao.core.spark import connect_server_command
from fengqiao.lake import SILVER_KEYS, Lake, read_table

# A server JVM and two client runs on the shared 2-core machine: ~1-2 min.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FEEDS = {"hotline": "hotline_calls", "mediation": "mediation_cases"}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("spark-connect")
    port = free_port()
    # The command finds its own SPARK_HOME and names its Python workers' interpreter: neither is inherited here.
    env = {key: value for key, value in os.environ.items() if key not in ("SPARK_HOME", "PYSPARK_PYTHON")}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    log = open(work / "server.log", "wb")
    settings = replace(Settings.from_env(), spark_master="local[2]", spark_driver_memory="1g")
    proc = subprocess.Popen(connect_server_command(settings, port), env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=work)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and not _listening(port):
            time.sleep(1)
        if not _listening(port):
            server_log = (work / "server.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"the Spark Connect server did not start\n{server_log}")
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):
    """A landed tiny drop without silver (to copy for the Connect runs), and the local run's silver."""
    from jobs.bronze.land_drops import land_drops
    from jobs.silver import hotline_calls, mediation_cases

    work = tmp_path_factory.mktemp("connect-lakes")
    drop = write_drop(work / "drop")
    bronze_only = Lake.at(work / "bronze-only")
    land_drops(drop, bronze_only, log=lambda _: None)
    local = Lake.at(work / "local")
    shutil.copytree(bronze_only.root, local.root)
    for job in (hotline_calls, mediation_cases):
        job.run(spark, local, Settings.from_env())
    return {"work": work, "drop": drop, "bronze_only": bronze_only, "local": local}


def _silver(lake: Lake, table: str) -> pd.DataFrame:
    df = read_table(lake.silver(table))
    return df[sorted(df.columns)].sort_values(SILVER_KEYS[table]).reset_index(drop=True)


def _run_in_connect_client(remote: str, lake: Lake, drop: Path, feed: str,
                           key_env: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_REMOTE": remote, "FENGQIAO_LAKE": str(lake.root), "FENGQIAO_SOURCE": str(drop),
           "FENGQIAO_THROUGH": "", "FENGQIAO_PSEUDONYM_KEY": "", "FENGQIAO_PSEUDONYM_KEY_FILE": "", **key_env}
    return subprocess.run([sys.executable, "-m", "jobs.submit", "silver", feed], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_silver_jobs_as_connect_clients_equal_the_local_run(connect_server, lakes):
    lake = Lake.at(lakes["work"] / "connect")
    shutil.copytree(lakes["bronze_only"].root, lake.root)
    key_file = lakes["work"] / "pseudonym.key"
    key_file.write_text(os.environ["FENGQIAO_PSEUDONYM_KEY"] + "\n", encoding="utf-8")  # the local run's key
    key_file.chmod(0o600)
    for feed, table in FEEDS.items():
        proc = _run_in_connect_client(connect_server, lake, lakes["drop"], feed,
                                      {"FENGQIAO_PSEUDONYM_KEY_FILE": str(key_file)})
        assert proc.returncode == 0, f"STDOUT\n{proc.stdout[-3000:]}\nSTDERR\n{proc.stderr[-3000:]}"
        summary = json.loads(proc.stdout.split("fengqiao-stage-summary ", 1)[1].splitlines()[0])
        remote, local = _silver(lake, table), _silver(lakes["local"], table)
        assert summary["rows"] == len(remote) > 0
        pd.testing.assert_frame_equal(remote, local)
    # The pseudonyms are there, and are the local run's (checked above): not null, not the clear numbers.
    calls = _silver(lake, "hotline_calls")
    assert calls["caller_key"].notna().any() and calls["caller_key"].str.fullmatch("[0-9a-f]{64}").dropna().all()


def test_a_key_given_as_a_variable_is_refused_under_connect(connect_server, lakes):
    lake = Lake.at(lakes["work"] / "refused")
    shutil.copytree(lakes["bronze_only"].root, lake.root)
    proc = _run_in_connect_client(connect_server, lake, lakes["drop"], "hotline",
                                  {"FENGQIAO_PSEUDONYM_KEY": os.environ["FENGQIAO_PSEUDONYM_KEY"]})
    assert proc.returncode != 0
    assert "FENGQIAO_PSEUDONYM_KEY_FILE" in proc.stderr and "never travels in a plan" in proc.stderr
    assert os.environ["FENGQIAO_PSEUDONYM_KEY"] not in proc.stderr + proc.stdout  # the refusal never shows the key
    assert not lake.silver("hotline_calls").exists()
