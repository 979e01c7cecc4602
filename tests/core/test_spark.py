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
