"""One narrow record per contact, whatever feed it came from.

The three silver tables are projected onto ``RECORD_COLUMNS`` and unioned (no shuffle), so that
counts and signals of all feeds come out of one group-by. Feed-specific flags are null-free:
a flag that does not apply to a feed is false there (party_count stays null outside mediation so
that means and maxima ignore it). ``village_code`` is the record's own code where the export placed it in
a village (12 digits, last three not 000), else null: villages are counted only where an export names them.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

HOTLINE, ORDERS, CASES = "hotline", "orders", "cases"

RECORD_COLUMNS = [
    "village_code", "township_code", "county_code", "week_start", "feed",
    "dispute_type", "is_wage_arrears", "has_escalation_terms",
    "is_complaint",                                   # hotline: request_type 投诉
    "is_repeat_order", "is_returned", "is_urgent",    # orders
    "party_count", "has_result", "is_failed", "is_criminal", "is_group",  # mediation
    "is_line_12345",                                  # hotline: the call came in on the 12345 government line
    # mediation 纠纷来源: sent by a court (法院委派), the police (公安移交), the petition office (信访转办), the hotline
    "is_court_referral", "is_police_referral", "is_petition_referral", "is_hotline_referral",
]

# Results that close a mediation either way; 调解中 (still running) is not yet a success or a failure.
FINAL_RESULTS = ("调解成功", "调解不成功", "终止")
FAILED_RESULT = "调解不成功"
URGENT = ("紧急", "特急")
RETURNED = "退回"
COMPLAINT = "投诉"
LABOUR = "劳动争议"
GOVERNMENT_LINE = "12345"
COURT_REFERRAL, POLICE_REFERRAL, PETITION_REFERRAL, HOTLINE_REFERRAL = "法院委派", "公安移交", "信访转办", "热线转办"
REFERRAL_FLAGS = {"is_court_referral": COURT_REFERRAL, "is_police_referral": POLICE_REFERRAL,
                  "is_petition_referral": PETITION_REFERRAL, "is_hotline_referral": HOTLINE_REFERRAL}


def _flag(condition: Column) -> Column:
    # Null inputs (an empty status, an unknown urgency) mean "not flagged", never null.
    return F.coalesce(condition, F.lit(False))


def _no(name: str) -> Column:
    """A flag that does not apply to this feed (Columns are built per call: they need a live session)."""
    return F.lit(False).alias(name)


def _no_parties() -> Column:
    return F.lit(None).cast("int").alias("party_count")


def village_code() -> Column:
    """The record's region_code when it names a village (same township, village digits not 000), else null."""
    code = F.col("region_code")
    is_village = (F.length(code) == 12) & (F.substring(code, 10, 3) != "000") & (
        F.substring(code, 1, 9) == F.substring(F.col("township_code"), 1, 9))
    return F.when(is_village, code)


def _no_referrals() -> list[Column]:
    return [_no(name) for name in REFERRAL_FLAGS]


def _common(feed: str, wage_arrears: Column | None = None) -> list[Column]:
    wage_arrears = F.col("is_wage_arrears") if wage_arrears is None else wage_arrears
    return [
        village_code().alias("village_code"), F.col("township_code"), F.col("county_code"), F.col("week_start"),
        F.lit(feed).alias("feed"),
        F.col("dispute_type"),
        _flag(wage_arrears).alias("is_wage_arrears"),
        _flag(F.col("has_escalation_terms")).alias("has_escalation_terms"),
    ]


def hotline_records(calls: DataFrame) -> DataFrame:
    return calls.select(
        *_common(HOTLINE),
        _flag(F.col("request_type") == COMPLAINT).alias("is_complaint"),
        _no("is_repeat_order"), _no("is_returned"), _no("is_urgent"),
        _no_parties(), _no("has_result"), _no("is_failed"),
        _no("is_criminal"), _no("is_group"),
        _flag(F.trim(F.col("line")) == GOVERNMENT_LINE).alias("is_line_12345"), *_no_referrals(),
    )


def order_records(orders: DataFrame) -> DataFrame:
    return orders.select(
        *_common(ORDERS),
        _no("is_complaint"),
        _flag(F.col("is_repeat")).alias("is_repeat_order"),
        _flag(F.col("status") == RETURNED).alias("is_returned"),
        _flag(F.col("urgency").isin(*URGENT)).alias("is_urgent"),
        _no_parties(), _no("has_result"), _no("is_failed"),
        _no("is_criminal"), _no("is_group"),
        _no("is_line_12345"), *_no_referrals(),
    )


def case_records(cases: DataFrame) -> DataFrame:
    return cases.select(
        # The registry has no 欠薪 flag: a labour case involving migrant workers (涉及农民工) is the
        # registry's form of unpaid migrant wages, which the plans file under 劳动争议.
        *_common(CASES, (F.col("dispute_type") == LABOUR) & F.col("involves_migrant_workers")),
        _no("is_complaint"),
        _no("is_repeat_order"), _no("is_returned"), _no("is_urgent"),
        F.col("party_count").cast("int").alias("party_count"),
        _flag(F.col("result").isin(*FINAL_RESULTS)).alias("has_result"),
        _flag(F.col("result") == FAILED_RESULT).alias("is_failed"),
        _flag(F.col("criminal_tendency")).alias("is_criminal"),
        _flag(F.col("group_tendency")).alias("is_group"),
        _no("is_line_12345"),
        *[_flag(F.col("case_source") == source).alias(name) for name, source in REFERRAL_FLAGS.items()],
    )


def union_records(calls: DataFrame, orders: DataFrame, cases: DataFrame) -> DataFrame:
    """All contacts of the three feeds as ``RECORD_COLUMNS`` (a narrow union, no shuffle)."""
    return (
        hotline_records(calls)
        .unionByName(order_records(orders))
        .unionByName(case_records(cases))
        .select(*RECORD_COLUMNS)
    )
