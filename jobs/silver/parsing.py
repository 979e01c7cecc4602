"""Column parsers and cleaners of the silver jobs: text, dates, amounts, flags, and the keyword rules.

Every function returns a native Spark column expression (no Python UDF): null where a value is
missing or cannot be parsed, so that the job can send the record to quarantine with its reason.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from fengqiao.core.disputes import KEYWORD_RULES, WAGE_ARREARS_WORDS
from fengqiao.core.lexicon import ESCALATION_TERMS
from fengqiao.core.regex import for_java, word_alternation


def blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col) == "")


# C0 control characters but tab and line feed, and DEL: no meaning in text, trouble in every output.
_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def plain_text(col: Column) -> Column:
    """Free text with line breaks as LF (CRLF or a lone CR too) and without control characters (NUL...)."""
    return F.regexp_replace(F.regexp_replace(col, r"\r\n?", "\n"), _CONTROL_CHARS, "")


def clean_text(name: str) -> Column:
    """Trimmed text, null when empty (CSV writes a missing value as an empty string)."""
    return F.when(~blank(F.col(name)), F.trim(F.col(name)))


def parse_iso_timestamp(col: Column) -> Column:
    """ISO 8601 with offset (``2025-03-04T09:15:22+08:00``) to an instant; null if unparseable."""
    return F.try_to_timestamp(F.trim(col))


def _normalise_cn_date(col: Column) -> Column:
    # 2025年3月4日 / 2025/3/4 / 2025.3.4 -> 2025-3-4; a "T" or 日 before the time becomes a space.
    text = F.regexp_replace(F.trim(col), r"[年月/.]", "-")
    text = F.regexp_replace(text, r"日\s*", " ")
    return F.trim(F.regexp_replace(text, "T", " "))


_CN_TIMESTAMP_PATTERNS = ("yyyy-M-d H:m:s", "yyyy-M-d H:m", "yyyy-M-d", "yyyyMMddHHmmss", "yyyyMMdd")


def parse_cn_timestamp(col: Column) -> Column:
    """Hand-kept dates with optional time: 2025-03-04, 2025/3/4, 2025年3月4日, 20250304 (+ H:m[:s])."""
    text = _normalise_cn_date(col)
    return F.coalesce(*[F.try_to_timestamp(text, F.lit(p)) for p in _CN_TIMESTAMP_PATTERNS])


def parse_cn_date(col: Column) -> Column:
    return parse_cn_timestamp(col).cast("date")


def parse_amount(col: Column) -> Column:
    """Yuan from 12000, 1,200.50, 1.2万 (×10 000), ¥/元 decorations; null if empty or unparseable."""
    text = F.regexp_replace(F.trim(col), r"[,，\s¥￥元]", "")
    number = F.regexp_replace(text, "万$", "").try_cast("double")
    return F.when(text.endswith("万"), number * 10000).otherwise(number)


def parse_yes_no(col: Column) -> Column:
    text = F.lower(F.trim(col))
    return (F.when(text.isin("是", "true", "1", "y", "yes"), F.lit(True))
            .when(text.isin("否", "false", "0", "n", "no"), F.lit(False)))


def parse_int(col: Column) -> Column:
    return F.trim(col).try_cast("int")


def week_of(ts_or_date: Column) -> Column:
    """Monday of the ISO week in the session time zone (Asia/Shanghai)."""
    return F.date_trunc("week", ts_or_date).cast("date")


# --- text rules ------------------------------------------------------------------------------


def keyword_dispute_type(text: Column) -> Column:
    """First matching keyword rule of fengqiao.core.disputes as one CASE WHEN; null when none matches."""
    rules = [F.when(text.rlike(for_java(word_alternation(words))), F.lit(label)) for words, label in KEYWORD_RULES]
    return F.coalesce(*rules, F.lit(None).cast("string"))


def mentions_wage_arrears(text: Column) -> Column:
    return F.coalesce(text.rlike(for_java(word_alternation(WAGE_ARREARS_WORDS))), F.lit(False))


def mentions_escalation(text: Column) -> Column:
    """True where the text holds a word of the escalation lexicon (fengqiao.core.lexicon); false for no text."""
    return F.coalesce(text.rlike(for_java(word_alternation(ESCALATION_TERMS))), F.lit(False))
