"""The silver jobs as clients of a long-running Spark Connect server (SPARK_REMOTE) give the local run's tables.

A Spark Connect server starts on loopback with ``fengqiao spark-connect-server`` (the pyspark package's own
``spark-submit --class ...SparkConnectServer``, as ``sbin/start-connect-server.sh`` does) and drives a standalone
cluster of one worker, as docker-compose.yml's spark-connect service does: the pseudonyms are computed by Python
workers of an executor in the worker's JVM, which read the key file. The server demands the token it keeps in a
0600 file of its own: a client without it, or with another, is refused, and the server is not reachable off
loopback. A tiny lake (tests/drop_builder.py, landed,
silver built with the session's local Spark and the suite's key) is copied without its silver; the hotline and
mediation jobs, the two that pseudonymise, then run in a child process with ``SPARK_REMOTE`` and the same key in a
file (mode 0600), and their tables must equal the local run's, pseudonyms included: the workers read the key from
the file, no plan carries it. A key given only as a variable is refused under Connect.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from drop_builder import write_drop
from local_processes import cluster_state, listening, spark_connect_server, standalone_cluster
from fengqiao.core.settings import Settings
from fengqiao.lake import SILVER_KEYS, Lake, read_table

# A master, a worker, a server JVM and two client runs on the shared 2-core machine: ~2 min.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FEEDS = {"hotline": "hotline_calls", "mediation": "mediation_cases"}


def _non_loopback_address() -> str | None:
    """An address of this machine off loopback (the one its default route leaves by), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("spark-connect")
    # The command finds its own SPARK_HOME and names its Python workers' interpreter: neither is inherited here.
    env = {key: value for key, value in os.environ.items() if key not in ("SPARK_HOME", "PYSPARK_PYTHON")}
    with contextlib.ExitStack() as stack:
        try:
            cluster = stack.enter_context(standalone_cluster(work, workers=1))
            env.update({"SPARK_MASTER": cluster["master"], "SPARK_LOCAL_IP": "127.0.0.1",
                        "FENGQIAO_SPARK_DRIVER_HOST": "127.0.0.1", "FENGQIAO_SPARK_DRIVER_MEMORY": "1g",
                        "FENGQIAO_SPARK_EXECUTOR_MEMORY": "512m"})
            port = stack.enter_context(spark_connect_server(work, env))["port"]
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield {"remote": f"sc://127.0.0.1:{port}", "port": port, "token_file": work / "spark-connect.token",
               "web_port": cluster["web_port"]}


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


def _run_in_connect_client(server: dict, lake: Lake, drop: Path, feed: str,
                           key_env: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_REMOTE": server["remote"],
           "FENGQIAO_SPARK_CONNECT_TOKEN_FILE": str(server["token_file"]),
           "FENGQIAO_LAKE": str(lake.root), "FENGQIAO_SOURCE": str(drop),
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
    # The server ran them as an application of the cluster, whose executor computed the pseudonyms.
    assert [app["name"] for app in cluster_state(connect_server["web_port"])["activeapps"]] == ["fengqiao-connect"]
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


def test_the_server_demands_its_token_and_listens_on_loopback_only(connect_server, tmp_path):
    token = connect_server["token_file"].read_text(encoding="utf-8").strip()
    assert connect_server["token_file"].stat().st_mode & 0o077 == 0 and len(token) >= 32
    probe = ("import sys; from pyspark.sql import SparkSession; "
             "print(SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(3).count())")
    env = {key: value for key, value in os.environ.items() if key not in ("SPARK_REMOTE",
                                                                          "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    port = connect_server["port"]
    answers = {url: subprocess.run([sys.executable, "-c", probe, url], env=env, capture_output=True, text=True,
                                   timeout=120)
               for url in (f"sc://localhost:{port}", f"sc://localhost:{port}/;token={'0' * 64}",
                           f"sc://localhost:{port}/;token={token}")}
    no_token, wrong_token, right_token = answers.values()
    assert no_token.returncode != 0 and "No authentication token provided" in no_token.stderr
    assert wrong_token.returncode != 0 and "Invalid authentication token" in wrong_token.stderr
    assert right_token.returncode == 0 and right_token.stdout.strip() == "3", right_token.stderr[-2000:]
    address = _non_loopback_address()
    if address is not None:
        assert not listening(port, address), f"the server answers on {address}, off loopback"
