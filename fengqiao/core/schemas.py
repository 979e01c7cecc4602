"""Schemas of the silver and gold tables: the contract between stages.

Each silver job ends with ``select(*columns_of(SCHEMA))`` so that what it publishes is exactly this.
Times are Spark TIMESTAMP (instants; the session time zone is Asia/Shanghai), ``week_start`` is the
Monday (DATE) of the ISO week in Asia/Shanghai, and the table's partition column.
Free-text columns are masked before they reach silver; identities survive only as keyed pseudonyms.
:func:`conform` gives a Spark frame exactly a schema's columns and types.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.feature_columns import (COUNT_COLUMNS, FEATURE_COLUMNS, KEY_COLUMNS, REFERRAL_COUNT_COLUMNS,
                                           SEASON_COLUMNS)

S, TS, D, I, DB, B = T.StringType(), T.TimestampType(), T.DateType(), T.IntegerType(), T.DoubleType(), T.BooleanType()


def _schema(*fields: tuple) -> T.StructType:
    return T.StructType([T.StructField(name, typ, nullable) for name, typ, nullable in fields])


# silver/hotline_calls: one row per call (newest version of each call_id)
HOTLINE_CALLS = _schema(
    ("call_id", S, False),
    ("line", S, True),                 # 12348 / 12345
    ("started_at", TS, False),
    ("duration_sec", I, True),
    ("caller_key", S, True),           # HMAC pseudonym of the normalised caller number
    ("region_code", S, False),         # as recorded (village or township level)
    ("township_code", S, False),
    ("county_code", S, False),
    ("request_type", S, True),         # 咨询 求助 投诉 举报 建议
    ("topic", S, True),                # operator's words, masked
    ("dispute_type", S, False),        # one of the 15 types (fengqiao.core.disputes)
    ("is_wage_arrears", B, False),
    ("transcript_text", S, True),      # turns joined as "坐席:…\n来电人:…", masked
    ("has_escalation_terms", B, False),
    ("satisfaction", I, True),
    ("work_order_id", S, True),
    ("updated_at", TS, False),
    ("source_file", S, False),         # bronze/<feed>/<day>/<file>, relative to the lake root
    ("week_start", D, False),
)

# silver/work_orders: one row per order (newest snapshot of each order_id)
WORK_ORDERS = _schema(
    ("order_id", S, False),
    ("created_at", TS, False),
    ("channel", S, True),              # 热线 网络 窗口 移动端
    ("call_id", S, True),
    ("region_code", S, False),
    ("township_code", S, False),
    ("county_code", S, False),
    ("category", S, True),             # 大类/小类
    ("dispute_type", S, False),
    ("is_wage_arrears", B, False),
    ("summary", S, True),              # masked
    ("has_escalation_terms", B, False),
    ("urgency", S, True),              # 一般 紧急 特急
    ("status", S, True),               # 受理 分派 办理中 退回 办结
    ("assigned_unit", S, True),
    ("due_at", TS, True),
    ("closed_at", TS, True),
    ("is_repeat", B, False),
    ("repeat_of", S, True),
    ("satisfaction", I, True),
    ("updated_at", TS, False),
    ("source_file", S, False),
    ("week_start", D, False),          # week of created_at
)

# silver/mediation_cases: one row per case (newest 更新时间 of each 案件编号)
MEDIATION_CASES = _schema(
    ("case_id", S, False),             # 案件编号
    ("dispute_type", S, False),        # 纠纷类型
    ("case_source", S, True),          # 纠纷来源
    ("region_code", S, False),         # 行政区划代码
    ("township_code", S, False),
    ("county_code", S, False),
    ("accepted_date", D, False),       # 受理日期
    ("occurred_date", D, True),        # 发生日期
    ("party_count", I, True),          # 当事人数
    ("amount_yuan", DB, True),         # 涉案金额
    ("involves_migrant_workers", B, True),
    ("criminal_tendency", B, True),    # 民转刑倾向
    ("group_tendency", B, True),       # 群体性倾向
    ("mediation_org", S, True),        # 调解组织
    ("mediator_key", S, True),         # pseudonym of 调解员
    ("result", S, True),               # 调解成功 调解不成功 调解中 终止
    ("status", S, True),               # 已受理 调解中 已结案 已回访
    ("summary", S, True),              # 纠纷简介, masked
    ("has_escalation_terms", B, False),
    ("party_key", S, True),            # pseudonym of the first party's phone (or name) for repeat counts
    ("updated_at", TS, False),
    ("source_file", S, False),
    ("week_start", D, False),          # week of accepted_date
)

# silver/quarantine: every rejected record, with why
QUARANTINE = _schema(
    ("feed", S, False),
    ("source_file", S, False),
    ("line_no", T.LongType(), True),
    ("reason", S, False),
    ("raw_masked", S, True),           # the raw record with personal data masked
    ("quarantined_at", TS, False),
)

# gold/risk_scores (contract columns first)
RISK_SCORES = _schema(
    ("region_code", S, False),
    ("level", S, False),               # township / county / city / province
    ("week_start", D, False),
    ("score", DB, False),              # 0-1 chance of escalation within the horizon
    ("risk_level", S, True),           # 红 橙 黄 蓝 or null
    ("flagged", B, False),
    ("model_version", S, False),
    ("reasons", T.ArrayType(S), False),
    ("county_code", S, False),
    ("region_name", S, True),
    ("rank_in_week", I, True),
    ("score_h1", DB, True),            # 0-1 chance of escalation within 1 week (null for baselines)
    ("score_h2", DB, True),            # ... within 2 weeks
    ("score_h4", DB, True),            # ... within 4 weeks (= score for the model)
)

# gold/alerts
ALERTS = _schema(
    ("alert_id", S, False),
    ("region_code", S, False),
    ("week_start", D, False),
    ("risk_level", S, True),
    ("recipient_unit", S, False),
    ("channel", S, False),             # email / webhook
    ("sent_at", TS, True),
    ("status", S, False),              # sent / failed
    ("recipient_address", S, True),
    ("detail", S, True),
    ("ack_ref", S, True),              # random reference the bureau quotes (null in rows before it existed)
)

# gold/hotspot_patterns: emerging hot-spot category per township and week (models/hotspots.py)
HOTSPOT_PATTERNS = _schema(
    ("region_code", S, False),
    ("level", S, False),
    ("county_code", S, False),
    ("region_name", S, True),
    ("week_start", D, False),          # last week of the window
    ("category", S, False),            # new_hot_spot … no_pattern
    ("category_zh", S, False),         # 新增热点 … 无明显模式
    ("gi_z_last", DB, True),
    ("gi_p_last", DB, True),
    ("trend_tau", DB, True),
    ("trend_p", DB, True),
    ("hot_weeks", I, False),
    ("cold_weeks", I, False),
    ("window_weeks", I, False),
    ("value", S, False),
)

# gold/alert_dispositions: what bureaus reported back (jobs/gold/alert_dispositions.py, jobs/gold/ack_receiver.py)
ALERT_DISPOSITIONS = _schema(
    ("alert_id", S, False),
    ("region_code", S, False),
    ("week_start", D, False),
    ("recipient_unit", S, True),
    ("disposition", S, False),         # confirmed / dismissed / handled
    ("disposition_zh", S, False),      # 已核实 / 已排除 / 已处置
    ("disposed_at", TS, False),
    ("received_via", S, False),        # file / webhook
    ("note_masked", S, True),
    ("received_at", TS, False),
    ("key_id", S, True),               # bureau key that signed it; null: stored before signing, never a label
)


def columns_of(schema: T.StructType) -> list[str]:
    return [f.name for f in schema.fields]


def conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """The stage's contract: exactly the schema's columns, in order, with its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


# gold/feed_health: one row per feed x county x week (jobs/gold/feed_health.py)
FEED_HEALTH = _schema(
    ("feed", S, False),                # hotline / workorders / mediation
    ("feed_zh", S, False),             # 热线 / 工单 / 人民调解
    ("county_code", S, False),
    ("county_name", S, True),
    ("week_start", D, False),
    ("records", T.LongType(), False),  # records dated in the week
    ("days_with_data", I, False),
    ("last_data_date", D, True),       # latest day with a record up to the week's end
    ("days_since_data", I, True),
    ("baseline_median", DB, True),     # median weekly count of the previous 8 weeks
    ("ratio", DB, True),               # records / baseline (elapsed share for a partial week)
    ("others_ratio", DB, True),        # median ratio of the feed's other counties that week
    ("status", S, False),              # ok outage catch_up low high feed_down no_history
    ("status_zh", S, False),           # 正常 中断 补报 偏低 偏高 全市中断 历史不足
    ("is_outage", B, False),
    ("is_catch_up", B, False),
    ("week_complete", B, False),
)

# gold/risk_scores and gold/baseline_scores as published by the scoring stage: the scoring job's columns
# (RISK_SCORES) plus ``data_gap``, set by jobs.gold.feed_health.mark_outages (jobs/gold/score_marks.py).
RISK_SCORES_PUBLISHED = T.StructType(RISK_SCORES.fields + [T.StructField("data_gap", B, True)])

# gold/region_week_features: one row per region (village, township, county, city, province) x week (jobs/gold/region_week_features.py).
# Whole-number features are bigint (zero-filled for weeks without records), the two calendar columns int,
# shares, ratios and means double.
INTEGER_FEATURES = [
    *COUNT_COLUMNS, "returned_orders", "mediation_party_max", "large_group_cases", "failed_mediations",
    "criminal_tendency_cases", "group_tendency_cases", "escalation_term_records", *REFERRAL_COUNT_COLUMNS,
]


def feature_type(column: str) -> T.DataType:
    """The Spark type of a feature column of gold/region_week_features."""
    if column in INTEGER_FEATURES:
        return T.LongType()
    if column in SEASON_COLUMNS:
        return T.IntegerType()
    return T.DoubleType()


REGION_WEEK_FEATURES = T.StructType(
    [T.StructField(c, T.DateType() if c == "week_start" else T.StringType(), c != "region_name")
     for c in [*KEY_COLUMNS, "region_name"]]
    + [T.StructField(c, feature_type(c), False) for c in FEATURE_COLUMNS]
)
