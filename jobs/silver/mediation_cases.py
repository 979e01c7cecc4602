"""Silver mediation_cases: hand-kept dates and amounts typed, newest 更新时间 per 案件编号, masked.

read_raw_mediation is the I/O edge (bronze CSV in GB18030, sometimes .xlsx); clean_mediation_cases
is pure. Columns keep their Chinese names until the final select renames them to the schema.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.disputes import TYPE_LABELS
from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.core.keys import PseudonymKey
from fengqiao.core.privacy import mask_known_names, mask_personal_data, normalise_phone, pseudonym
from fengqiao.core.settings import Settings
from fengqiao.core.schemas import MEDIATION_CASES, conform
from jobs.silver.parsing import (blank, clean_text, mentions_escalation, parse_amount, parse_cn_date,
                                 parse_cn_timestamp, parse_int, parse_yes_no, plain_text, week_of)
from jobs.silver.publish import run_silver_job
from jobs.silver.raw_files import CORRUPT, bronze_files, empty_raw, read_csv_files, relative_to_lake
from jobs.silver.reasons import KNOWN_NAMES, RAW_TEXT, first_failure, reason, unreadable_quarantine
from jobs.silver.records import newest_version, with_region_check
from jobs.silver.rules import check_records, good_records, quarantined_records

FEED = "mediation"
TABLE = SILVER_TABLES[FEED]
SUFFIXES = (".csv", ".xlsx")  # the bronze files this job reads
COLUMNS = ["案件编号", "纠纷类型", "纠纷来源", "行政区划代码", "受理日期", "发生日期", "当事人数", "涉案金额",
           "涉及农民工", "民转刑倾向", "群体性倾向", "调解组织", "调解员", "调解结果", "案件状态", "纠纷简介",
           "当事人姓名", "当事人电话", "更新时间"]
_SEPARATORS = r"[、,，;；/\s]+"


def _read_xlsx(spark: SparkSession, lake: Lake, files: list[Path]) -> DataFrame | None:
    """The few .xlsx deliveries, via pandas/openpyxl on the driver; row numbers as in Excel."""
    import pandas as pd

    rows = []
    for path in files:
        sheet = pd.read_excel(path, dtype=str, engine="openpyxl")
        sheet.columns = [str(c).strip() for c in sheet.columns]
        source = relative_to_lake(path, lake)
        for index, record in enumerate(sheet.to_dict("records")):
            values = [None if pd.isna(record.get(c)) else str(record.get(c)) for c in COLUMNS]
            rows.append((*values, None, source, index + 2))  # +2: header is row 1, Excel counts from 1
    if not rows:
        return None
    schema = T.StructType([T.StructField(c, T.StringType()) for c in COLUMNS + [CORRUPT, "source_file"]]
                          + [T.StructField("line_no", T.LongType())])
    # The CSV rows' private columns (jobs.silver.raw_files.read_csv_files), empty: a spreadsheet row has its line.
    return spark.createDataFrame(rows, schema).withColumns(
        {"_path": F.lit(None).cast("string"), "_mid": F.lit(None).cast("long")})


def read_raw_mediation(spark: SparkSession, lake: Lake,
                       files: list[Path] | None = None) -> tuple[DataFrame, DataFrame]:
    """(raw rows as strings, quarantine rows for files that could not be read at all); ``files``: only these."""
    csv_files = bronze_files(lake, FEED, (".csv",), only=files)
    # GB18030 per the contract; a UTF-8 export (a known slip) is recognised by its header and read as such.
    raw, unreadable = read_csv_files(spark, lake, csv_files, "案件编号", ("utf-8", "gb18030"), COLUMNS)
    xlsx = _read_xlsx(spark, lake, bronze_files(lake, FEED, (".xlsx",), only=files))
    frames = [f for f in (raw, xlsx) if f is not None]
    combined = frames[0].unionByName(frames[1]) if len(frames) == 2 else (frames[0] if frames else None)
    if combined is None:
        combined = empty_raw(spark, COLUMNS)
    return combined, unreadable_quarantine(spark, FEED, unreadable)


def _first_of_list(col: Column) -> Column:
    return F.element_at(F.split(F.trim(col), _SEPARATORS), 1)


def clean_mediation_cases(raw: DataFrame, regions_df: DataFrame,
                          key: str | PseudonymKey) -> tuple[DataFrame, DataFrame]:
    """Raw rows -> (silver mediation_cases, quarantine)."""
    parsed = raw.withColumnRenamed("行政区划代码", "region_code").withColumns({
        "_accepted": parse_cn_date(F.col("受理日期")),
        "_occurred": parse_cn_date(F.col("发生日期")),
        "_updated": parse_cn_timestamp(F.col("更新时间")),
        "_amount": parse_amount(F.col("涉案金额")),
        "_parties": parse_int(F.col("当事人数")),
    })
    checked = with_region_check(parsed, regions_df)
    checks = [
        (F.trim("案件编号") == "案件编号", reason("stray_header_row")),
        (F.col(CORRUPT).isNotNull(), reason("malformed_record")),
    ]
    checks += [(blank(F.col(n)), reason("missing_required_field", label)) for n, label in (
        ("案件编号", "案件编号"), ("纠纷类型", "纠纷类型"), ("region_code", "行政区划代码"),
        ("受理日期", "受理日期"), ("更新时间", "更新时间"))]
    checks += [
        (~F.trim("纠纷类型").isin(*TYPE_LABELS), reason("unknown_dispute_type")),
        (F.col("_accepted").isNull(), reason("unparseable_date", "受理日期")),
        (~blank(F.col("发生日期")) & F.col("_occurred").isNull(), reason("unparseable_date", "发生日期")),
        (F.col("_updated").isNull(), reason("unparseable_date", "更新时间")),
        (~blank(F.col("涉案金额")) & F.col("_amount").isNull(), reason("unparseable_amount")),
        (~blank(F.col("当事人数")) & F.col("_parties").isNull(), reason("unparseable_integer", "当事人数")),
        (F.col("_region_error").isNotNull(), F.col("_region_error")),
    ]
    raw_cols = [F.coalesce(F.col(c if c != "行政区划代码" else "region_code"), F.lit("")) for c in COLUMNS]
    raw_text = F.coalesce(F.col(CORRUPT), F.concat_ws(",", *raw_cols))
    known = F.concat_ws("、", F.col("当事人姓名"), F.col("调解员"))
    # Every record goes on, the rejected ones with their ``_error`` (jobs.silver.rules.check_records).
    records = checked.withColumns({"_error": first_failure(checks), RAW_TEXT: raw_text, KNOWN_NAMES: known,
                                   "案件编号": F.trim("案件编号"), "updated_at": F.col("_updated")})
    dispute_type = F.trim("纠纷类型")
    summary = plain_text(F.col("纠纷简介"))
    first_phone = normalise_phone(_first_of_list(F.col("当事人电话")))
    party = F.coalesce(first_phone, _first_of_list(F.col("当事人姓名")))
    # Every version is typed and masked, then held to the suite's row-level rules before the newest is
    # chosen: a version breaking one is quarantined and never pushes a good older one out.
    versions = records.select(
        F.col("案件编号").alias("case_id"),
        dispute_type.alias("dispute_type"),
        clean_text("纠纷来源").alias("case_source"),
        "region_code", "township_code", "county_code",
        F.col("_accepted").alias("accepted_date"),
        F.col("_occurred").alias("occurred_date"),
        F.col("_parties").alias("party_count"),
        F.col("_amount").alias("amount_yuan"),
        parse_yes_no(F.col("涉及农民工")).alias("involves_migrant_workers"),
        parse_yes_no(F.col("民转刑倾向")).alias("criminal_tendency"),
        parse_yes_no(F.col("群体性倾向")).alias("group_tendency"),
        clean_text("调解组织").alias("mediation_org"),
        pseudonym(F.trim("调解员"), key).alias("mediator_key"),
        clean_text("调解结果").alias("result"),
        clean_text("案件状态").alias("status"),
        mask_personal_data(mask_known_names(summary, known)).alias("summary"),
        mentions_escalation(summary).alias("has_escalation_terms"),
        pseudonym(party, key).alias("party_key"),
        "updated_at", "source_file",
        week_of(F.col("_accepted")).alias("week_start"),
        "line_no", RAW_TEXT, KNOWN_NAMES, "_error",
        *[c for c in ("_path", "_mid") if c in raw.columns],  # for line numbers
    )
    checked = check_records(versions, "silver_mediation_cases", MEDIATION_CASES)
    rejected = quarantined_records(checked, FEED)
    silver = newest_version(good_records(checked), "case_id")
    return conform(silver, MEDIATION_CASES), rejected


def clean_with_settings(raw: DataFrame, regions_df: DataFrame, settings: Settings) -> tuple[DataFrame, DataFrame]:
    """:func:`clean_mediation_cases` with the configured pseudonym key."""
    return clean_mediation_cases(raw, regions_df, settings.resolved_pseudonym_key())


def run(spark: SparkSession, lake: Lake, settings: Settings, validate: bool = False, forget_days=()) -> dict:
    """Merge new bronze files into the table and this feed's quarantine; ``validate`` audits before publishing.

    Only files not yet merged are read (see jobs.silver.publish.run_silver_job); ``forget_days`` re-merges those days.
    """
    clean = partial(clean_with_settings, settings=settings)
    return run_silver_job(spark, lake, FEED, TABLE, read_raw_mediation, clean, SUFFIXES,
                            validate=validate, forget_days=forget_days)
