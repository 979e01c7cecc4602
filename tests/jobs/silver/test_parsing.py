"""The silver jobs' keyword rules read the lexicon's words from one pass (jobs.silver.parsing.lexicon_hits):
the same answers as asking each rule of the text on its own (fengqiao.core.disputes.keyword_type, `in`)."""
from __future__ import annotations

import random

from pyspark.sql import functions as F

from fengqiao.core.disputes import KEYWORD_RULES, WAGE_ARREARS_WORDS, keyword_type
from fengqiao.core.lexicon import ESCALATION_TERMS
from jobs.silver.parsing import (dispute_type_from_hits, escalation_from_hits, lexicon_hits, string_array,
                                 wage_arrears_from_hits)

WORDS = sorted({w for words, _ in KEYWORD_RULES for w in words} | set(WAGE_ARREARS_WORDS) | set(ESCALATION_TERMS))


def _texts(n: int, seed: int) -> list[str | None]:
    """Texts of whole words, their halves (so that words overlap and share beginnings: 拖欠工资 and 工资没发,
    欠薪 and 欠工资) and filler, plus an empty text and no text."""
    rng = random.Random(seed)
    pieces = WORDS + [w[: len(w) // 2] for w in WORDS] + [w[len(w) // 2:] for w in WORDS] + list("的了我在，。 ")
    return [None, ""] + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def test_one_pass_gives_each_rules_answer(spark):
    texts = _texts(3000, seed=5)
    hits = lexicon_hits(F.col("t"))
    rows = spark.createDataFrame([(t,) for t in texts], "t string").select(
        "t", dispute_type_from_hits(hits).alias("type"), wage_arrears_from_hits(hits).alias("wage"),
        escalation_from_hits(hits).alias("escalation")).collect()
    assert [r["t"] for r in rows] == texts
    for r in rows:
        t = r["t"] or ""
        assert r["type"] == keyword_type(r["t"]), t
        assert r["wage"] == any(w in t for w in WAGE_ARREARS_WORDS), t
        assert r["escalation"] == any(w in t for w in ESCALATION_TERMS), t
    # the texts exercise every rule, and words hidden inside longer ones
    assert {r["type"] for r in rows} >= {label for _, label in KEYWORD_RULES}
    assert sum(r["wage"] for r in rows) > 100 and sum(r["escalation"] for r in rows) > 100


def test_hits_take_the_longest_word_at_each_position_and_overlapping_ones(spark):
    hits = spark.createDataFrame([("拖欠工资没发，集体上访",)], "t string").select(lexicon_hits(F.col("t"))).first()[0]
    # 拖欠工资 at 0 (not the shorter 拖欠... that are prefixes of it), 工资没发 inside it, 上访 inside 集体上访
    assert "拖欠工资" in hits and "工资没发" in hits and "集体上访" in hits and "上访" in hits


def test_string_array_is_the_literal_list(spark):
    values = ["解放路街道", "a'b", "c\\d", "", "e\\'f", "12号$1"]
    assert spark.range(1).select(string_array(values).alias("a")).collect()[0]["a"] == values
