"""Masking and pseudonyms: the Spark expressions and their pure-Python twin agree and leak nothing."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from fengqiao.privacy import mask_known_names, mask_known_names_text, mask_personal_data, mask_text, \
    normalise_phone, pseudonym

CASES = [
    ("电话13812345678", "[电话]", "13812345678"),
    ("手机 +86 138 1234 5678 谢谢", "[电话]", "1234"),
    ("号码0086-138-1234-5678", "[电话]", "5678"),
    ("座机0531-88881234", "[电话]", "88881234"),
    ("身份证号37010219900101123X", "[身份证]", "19900101"),
    ("身份证370102199001011234。", "[身份证]", "19900101"),
    ("卡号6222021234567890123", "[银行卡]", "6222021234567890123"),
    ("卡号6222 0212 3456 7890", "[银行卡]", "3456"),
    ("住在经十路17923号3号楼2单元501室", "[地址]", "17923"),
    ("住在文化东巷8号", "[地址]", "文化东巷8号"),
    ("我叫张伟，想咨询", "[姓名]", "张伟"),
    ("姓名：欧阳娜娜", "[姓名]", "欧阳"),
    ("我是李小明", "[姓名]", "李小明"),
    ("张伟反映工资没发", "[姓名]", "张伟"),
    ("来电人傅兰涛反映：屋顶漏水", "[姓名]", "傅兰涛"),
    # A role followed by a name at the end of the text, or by a title standing for the name.
    ("联系人张建国", "[姓名]", "张建国"),
    ("联系人：张建国，电话见附件", "[姓名]", "张建国"),
    ("当事人李女士", "[姓名]", "李女士"),
    ("申请人王某某与被申请人赵先生因欠款纠纷", "[姓名]", "王某某"),
    ("被申请人赵先生拖欠工资", "[姓名]", "赵先生"),
    ("我是刘桂兰", "[姓名]", "刘桂兰"),
    ("当事人张建国与邻居因宅基地争执", "[姓名]", "张建国"),
]

# Headers and form words after a role that are not names: they must come out unchanged.
ORDINARY_ROLE_WORDS = ["当事人数", "联系人电话", "联系人电话：", "当事人数3人", "当事人双方", "当事人之间",
                       "申请人称", "联系人方式", "申请人申请调解", "当事人姓名,当事人电话,更新时间",
                       "案件编号,纠纷类型,当事人数,涉案金额"]


@pytest.mark.parametrize("text,token,secret", CASES)
def test_mask_text_python(text, token, secret):
    masked = mask_text(text)
    assert token in masked and secret not in masked


def test_mask_spark_matches_python(spark):
    ordinary = "我是来咨询的，村民反映路灯坏了。感谢您来电，谢谢来电人反映的情况"
    df = spark.createDataFrame([(t,) for t, _, _ in CASES] + [(ordinary,)], "t string")
    rows = df.select("t", mask_personal_data(F.col("t")).alias("m")).collect()
    for row in rows:
        assert row["m"] == mask_text(row["t"]), row["t"]
    assert rows[-1]["m"] == ordinary  # ordinary words survive


def test_both_names_of_a_pair_masked():
    masked = mask_text("申请人王某某与被申请人赵先生因欠款纠纷")
    assert masked == "申请人[姓名]与被申请人[姓名]因欠款纠纷"


@pytest.mark.parametrize("text", ORDINARY_ROLE_WORDS)
def test_role_headers_not_masked_python(text):
    assert mask_text(text) == text


def test_role_headers_not_masked_spark(spark):
    df = spark.createDataFrame([(t,) for t in ORDINARY_ROLE_WORDS], "t string")
    rows = df.select("t", mask_personal_data(F.col("t")).alias("m")).collect()
    assert [r["m"] for r in rows] == ORDINARY_ROLE_WORDS


def test_mask_known_names(spark):
    df = spark.createDataFrame([("李秀英和王强吵架，王强报警", "李秀英、王强"), ("无人", None), ("张三说", "张三;李")],
                               "t string, n string")
    out = [r["m"] for r in df.select(mask_known_names("t", "n").alias("m")).collect()]
    assert out == ["[姓名]和[姓名]吵架，[姓名]报警", "无人", "[姓名]说"]
    assert mask_known_names_text("李秀英和王强吵架", "李秀英，王强") == "[姓名]和[姓名]吵架"


def test_pseudonym_is_hmac_sha256(spark):
    values = ["13812345678", "李秀英", "x" * 200]
    key = "test-key-" + "k" * 70  # longer than a block: RFC 2104 hashes it first
    for k in ("short-key", key):
        df = spark.createDataFrame([(v,) for v in values] + [(None,), ("  ",)], "v string")
        got = [r["p"] for r in df.select(pseudonym("v", k).alias("p")).collect()]
        want = [hmac.new(k.encode(), v.encode(), hashlib.sha256).hexdigest() for v in values]
        assert got == want + [None, None]


def test_normalise_phone_then_pseudonym_is_stable(spark):
    df = spark.createDataFrame([("+86 138-1234-5678",), ("0086 13812345678",), ("13812345678",), ("8613812345678",)],
                               "v string")
    keys = {r["p"] for r in df.select(pseudonym(normalise_phone(F.col("v")), "k").alias("p")).collect()}
    assert keys == {hmac.new(b"k", b"13812345678", hashlib.sha256).hexdigest()}


def _fuzz_texts(n: int, seed: int) -> list[str]:
    """Short random texts over surnames, the verbs and titles after a name, and the excluded neighbours."""
    import random

    from fengqiao.privacy import _SURNAMES

    alphabet = list(_SURNAMES[:12]) + list("感多您你我们反映诉称先生女士等人的了，。 1a")
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(n)]


def test_name_before_verb_lookahead_changes_no_match(spark):
    """The speed-up look-ahead in front of name_before_verb is implied by the rule: same output without it."""
    import re

    from fengqiao.privacy import _CJK, _NAME_VERBS, _RULES

    fast = next(pattern for name, pattern, _, _ in _RULES if name == "name_before_verb")
    plain = fast.removeprefix(rf"(?=[{_CJK}]{{2,3}}(?:{_NAME_VERBS}))")
    assert plain != fast
    texts = _fuzz_texts(20000, seed=7)
    python = [(re.sub(fast, "[姓名]", t), re.sub(plain, "[姓名]", t)) for t in texts]
    assert all(a == b for a, b in python)
    assert sum(a != t for (a, _), t in zip(python, texts)) > 50  # the texts do exercise the rule
    df = spark.createDataFrame([(t,) for t in texts[:3000]], "t string")
    differing = df.where(F.regexp_replace("t", fast, "[姓名]") != F.regexp_replace("t", plain, "[姓名]")).count()
    assert differing == 0
