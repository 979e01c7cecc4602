"""The silver jobs keep their checked records in a local checkpoint on disk, and let go of it when done."""
from __future__ import annotations

from pyspark.sql import functions as F

from fengqiao.core.spark import release_memory
from jobs.silver.rules import CHECKPOINT_LEVEL


def _persisted(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def test_checkpoint_on_disk_is_released(spark):
    release_memory(spark)  # whatever earlier tests in this worker left
    kept = spark.range(1000).withColumn("twice", F.col("id") * 2).localCheckpoint(
        eager=True, storageLevel=CHECKPOINT_LEVEL)
    assert kept.count() == 1000 and _persisted(spark) == 1
    levels = [r.getStorageLevel() for r in spark.sparkContext._jsc.getPersistentRDDs().values()]
    assert levels[0].useDisk() and not levels[0].useMemory()
    release_memory(spark)
    assert _persisted(spark) == 0
