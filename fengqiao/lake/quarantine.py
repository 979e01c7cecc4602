"""Reading silver/quarantine: every feed's rejected records, one partition per feed (``feed=<feed>``)."""
from __future__ import annotations

from fengqiao.core.schemas import QUARANTINE, conform
from fengqiao.core.spark import read_parquet
from fengqiao.lake.paths import Lake


def read_quarantine(spark, lake: Lake):
    """All feeds' rejects as a Spark DataFrame with the QUARANTINE columns (``feed`` from the partition folders)."""
    if not any(lake.quarantine.glob("feed=*/*.parquet")):  # nothing rejected yet
        return spark.createDataFrame([], QUARANTINE)
    return conform(read_parquet(spark, lake.quarantine), QUARANTINE)
