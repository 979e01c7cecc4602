"""The one Spark session of a process.

Starting Spark costs 8-10 s, so a process (a CLI run, an Airflow worker, the test session) makes
one and every job reuses it. ``SPARK_MASTER`` chooses the engine: ``local[2]`` by default, or a
standalone cluster such as ``spark://host:7077`` with no code change.
"""
from __future__ import annotations

import os
import threading

from fengqiao.settings import get_settings

_lock = threading.Lock()


def get_spark(app_name: str = "fengqiao"):
    """Return the process's SparkSession, creating it on first use."""
    from pyspark.sql import SparkSession

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        settings = get_settings()
        # Loopback unless told otherwise: a laptop's public interface is not where Spark should listen.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            SparkSession.builder.appName(app_name)
            .master(settings.spark_master)
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
            .config("spark.sql.session.timeZone", settings.timezone)
            .config("spark.sql.sources.partitionOverwriteMode", "static")
            .config("spark.sql.parquet.compression.codec", "zstd")
            # Instants as UTC-adjusted INT64 micros (not legacy INT96): DuckDB and pyarrow then read
            # them as time-zone-aware timestamps, and analysts see Beijing time, not UTC clock time.
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.ansi.enabled", "false")
            # Spark 4 only reads GB18030 (the mediation registry's encoding) with the JDK's full charset list.
            .config("spark.sql.legacy.javaCharsets", "true")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def stop_spark() -> None:
    from pyspark.sql import SparkSession

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
