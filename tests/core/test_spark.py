"""fengqiao.core.spark: a session's JVM can be ended for the pandas stages and a new one started after; a finished
stage's blocks and heap are given back."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a child process: ending the JVM here would end the test session's own.
SCRIPT = textwrap.dedent(
    """
    from pyspark import SparkContext
    from fengqiao.core.spark import get_spark, stop_spark

    assert get_spark().range(5).count() == 5
    proc = SparkContext._gateway.proc
    stop_spark()
    print("after stop:", proc.poll() is None)          # the session alone: PySpark keeps the JVM
    assert get_spark().range(3).count() == 3
    assert SparkContext._gateway.proc is proc            # ... and the next session uses it again
    stop_spark(release_jvm=True)
    print("after release:", proc.poll() is None)       # the JVM has exited
    assert get_spark().range(4).count() == 4           # a new one starts on demand
    print("new jvm:", SparkContext._gateway.proc is not proc)
    stop_spark(release_jvm=True)
    """
)


def test_release_jvm_ends_the_gateway_and_the_next_session_starts_a_new_one():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "after stop: True" in proc.stdout
    assert "after release: False" in proc.stdout
    assert "new jvm: True" in proc.stdout


def _heap(spark) -> tuple[int, int]:
    usage = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage()
    return usage.getUsed(), usage.getCommitted()


def test_release_memory_drops_persisted_blocks_and_gives_the_heap_back(spark):
    from pyspark import StorageLevel

    from fengqiao.core.spark import release_memory

    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:MaxHeapFreeRatio=30" in arguments  # the ratio that lets a full collection shrink the heap
    # ~200 MB of deserialised rows in the memory store, as a stage's checkpoints would hold.
    kept = spark.range(2_000_000).selectExpr("id", "repeat(cast(id as string), 8) as text").persist(
        StorageLevel.MEMORY_ONLY)
    assert kept.count() == 2_000_000
    used_holding, committed_holding = _heap(spark)
    assert spark.sparkContext._jsc.getPersistentRDDs().size() >= 1

    release_memory(spark)

    used_after, committed_after = _heap(spark)
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == 0
    assert used_after < used_holding - 100_000_000          # the blocks were collected
    assert committed_after < committed_holding              # ... and the heap they needed handed back


# --- Spark Connect: the server's command and environment, the client's address (no JVM started) -------------


def _connect_settings(tmp_path: Path, **changes):
    from dataclasses import replace

    from fengqiao.core.settings import Settings

    return replace(Settings.from_env({"FENGQIAO_HOME": str(tmp_path)}), **changes)


def test_a_loopback_connect_server_listens_on_loopback_and_gets_its_token_from_the_environment(tmp_path, monkeypatch):
    from fengqiao.core.spark import CONNECT_TOKEN_VARIABLE, connect_server_command, connect_server_environment

    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    settings = _connect_settings(tmp_path, spark_master="local[2]")
    command = connect_server_command(settings, port=15999)
    assert "spark.connect.grpc.binding.address=127.0.0.1" in command
    assert "spark.connect.grpc.binding.port=15999" in command
    env = connect_server_environment(settings)
    token_file = tmp_path / "spark-connect.token"
    token = token_file.read_text(encoding="utf-8").strip()  # made on the first start, 0600
    assert token_file.stat().st_mode & 0o077 == 0 and len(token) == 64
    assert env[CONNECT_TOKEN_VARIABLE] == token and env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert not any(token in part for part in command)  # never on the command line, which `ps` shows
    assert connect_server_environment(settings)[CONNECT_TOKEN_VARIABLE] == token  # kept for the next start


def test_a_connect_server_off_loopback_has_no_token_and_a_cluster_driver_keeps_its_address(tmp_path, monkeypatch):
    from fengqiao.core.spark import CONNECT_TOKEN_VARIABLE, connect_server_command, connect_server_environment

    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    settings = _connect_settings(tmp_path, spark_master="spark://spark-master:7077", spark_driver_host="spark-connect")
    assert "spark.connect.grpc.binding.address=0.0.0.0" in connect_server_command(settings, host="0.0.0.0")
    env = connect_server_environment(settings, host="0.0.0.0")
    assert CONNECT_TOKEN_VARIABLE not in env and "SPARK_LOCAL_IP" not in env
    assert not (tmp_path / "spark-connect.token").exists()


def test_a_client_dials_a_loopback_server_as_localhost_with_its_token(tmp_path):
    import pytest

    from fengqiao.core.keys import SecretFileError
    from fengqiao.core.spark import connect_url

    token_file = tmp_path / "spark-connect.token"
    for remote in ("sc://127.0.0.1:15999", "sc://localhost:15999", "sc://[::1]:15999"):
        with pytest.raises(SecretFileError, match="fengqiao spark-connect-server"):
            connect_url(_connect_settings(tmp_path, spark_remote=remote))
    token_file.write_text("f" * 64 + "\n", encoding="utf-8")
    token_file.chmod(0o644)
    with pytest.raises(SecretFileError, match="others may read it"):
        connect_url(_connect_settings(tmp_path, spark_remote="sc://127.0.0.1:15999"))
    token_file.chmod(0o600)
    assert connect_url(_connect_settings(tmp_path, spark_remote="sc://127.0.0.1:15999")) == \
        f"sc://localhost:15999/;token={'f' * 64}"
    assert connect_url(_connect_settings(tmp_path, spark_remote="sc://localhost/;user_id=x")) == \
        f"sc://localhost:15002/;user_id=x;token={'f' * 64}"
    # Another host (a private network's server, no token), or a token already given, is dialled as it is.
    for remote in ("sc://spark-connect:15002", "sc://localhost:15999/;token=given"):
        assert connect_url(_connect_settings(tmp_path, spark_remote=remote)) == remote
