"""Tiny raw frames as the silver jobs read them from bronze (the silver and secrets tests share them)."""
from __future__ import annotations

from pyspark.sql import types as T

from drop_builder import PII
from jobs.silver import hotline_calls as H
from jobs.silver.raw_files import CORRUPT

# The columns every raw frame ends with: the bronze file a row came from and its line.
TAIL = T.StructType([T.StructField("source_file", T.StringType()), T.StructField("line_no", T.LongType())])


def hotline_raw(spark, rows):
    fields = [f for f in H.RAW_SCHEMA.fields] + list(TAIL.fields)
    return spark.createDataFrame(rows, T.StructType(fields))


def call(call_id, region="370102001001", updated="2025-03-03T10:00:00+08:00", started="2025-03-03T09:15:22+08:00",
         address=None, topic="工资没发", source="bronze/hotline/2025-03-03/a.jsonl", corrupt=None):
    """One raw hotline call whose transcript names the caller and their number (drop_builder.PII)."""
    transcript = [("坐席", "您好"), ("来电人", f"我叫{PII['caller_name']}，电话{PII['caller_phone']}，我们要集体上访")]
    return (call_id, "12348", started, "65", "+86 138-1234-5678", PII["caller_name"], region, address, "投诉", topic,
            transcript, "9", None, updated, corrupt, source, None)


def csv_raw(spark, columns, rows, source):
    """A raw CSV feed's frame: ``rows`` are (values, corrupt record or None) pairs from the file ``source``."""
    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns + [CORRUPT]] + list(TAIL.fields))
    return spark.createDataFrame([tuple(r) + (corrupt, source, None) for r, corrupt in rows], schema)
