"""Masking and pseudonyms: the Spark expressions and their pure-Python twin agree and leak nothing."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from fengqiao.core.privacy import WIDTH_FOLD, fold_width, mask_known_names, mask_known_names_text, mask_personal_data, \
    mask_raw_record, mask_text, normalise_phone, normalise_phone_text, pseudonym

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

# Forms that plain rules missed (found by a probe of the rules): (text, token, secret that must go).
FORMS = [
    ("电话１３８１２３４５６７８", "[电话]", "１２３４"),  # full-width digits
    ("电话138\u30001234\u30005678，随时打", "[电话]", "5678"),  # split by ideographic spaces
    ("号码是138，1234，5678。", "[电话]", "5678"),
    ("你记一下，1381 234 5678。", "[电话]", "5678"),
    ("手机138 1234 5678", "[电话]", "5678"),
    ("手机138-1234-5678", "[电话]", "5678"),
    ("单位电话0755 1234 5678", "[电话]", "5678"),
    ("打单位电话0531-88881234转806也行", "[电话]", "806"),
    ("座机（0734）8123456分机12", "[电话]", "8123456"),
    ("身份证号370102 19900101 123X。", "[身份证]", "19900101"),
    ("身份证3701 0219 9001 0112 3X", "[身份证]", "0112"),
    ("我电话一三八一二三四五六七八。", "[号码]", "五六七八"),
    ("号码幺三八幺二三四五六七八", "[号码]", "五六七八"),
    ("号码是洞七三四 八一二三四五六", "[号码]", "四五六"),
    ("材料发我邮箱zhang.wei88@163.com就行", "[邮箱]", "zhang.wei88"),
    ("邮箱１２３４５６７８＠ｑｑ．ｃｏｍ", "[邮箱]", "12345678"),
    ("我叫欧阳娜娜，想问", "[姓名]", "娜娜"),
    ("上官婉儿反映的情况属实", "[姓名]", "婉儿"),
    ("姓名：司马相如", "[姓名]", "相如"),
    ("联系人：欧阳娜娜", "[姓名]", "娜娜"),
    ("（联系人：司马华生，电话见附件）", "[姓名]", "华生"),
    ("来电人:联系人：上官玉亮，", "[姓名]", "玉亮"),
    ("来电人上官婉儿反映", "[姓名]", "婉儿"),
    ("我老婆王秀英说这事不算完", "[姓名]", "秀英"),
    ("老板刘建华一直不给钱", "[姓名]", "建华"),
    ("我爸张国强住院了", "[姓名]", "国强"),
    ("包工头萧志海也不管", "[姓名]", "志海"),
]

# Ordinary text the new rules must leave alone: dates, amounts, case and order numbers, region codes,
# durations, counts, and a caller's turn that opens with a greeting after the speaker label.
ORDINARY = ["2024年3月5日", "2024-03-05 13:45", "二〇二四年三月五日", "涉案金额12000元", "欠了12,000元", "一万二千元",
            "十几万彩礼", "(2024)鲁0102民初1234号", "案件编号3701022024TJ000123", "区划370102001000，370126003000",
            "工单GD20241104000123", "来电RX2024110400001", "通话时长125秒", "3个月了", "三四个人", "七八十个工友",
            "来电人:你好，邻居家漏水", "来电人:好的，谢谢", "坐席:您好，12348公共法律服务热线", "老板拖欠工资三个月了",
            "我老婆说不离", "邻居家养狗天天叫", "朋友借了我五万块钱", "第1、2、3条"]

# Headers and form words after a role that are not names: they must come out unchanged.
ORDINARY_ROLE_WORDS = ["当事人数", "联系人电话", "联系人电话：", "当事人数3人", "当事人双方", "当事人之间",
                       "申请人称", "联系人方式", "申请人申请调解", "当事人姓名,当事人电话,更新时间",
                       "案件编号,纠纷类型,当事人数,涉案金额"]


@pytest.mark.parametrize("text,token,secret", CASES)
def test_mask_text_python(text, token, secret):
    masked = mask_text(text)
    assert token in masked and secret not in masked


@pytest.mark.parametrize("text,token,secret", FORMS)
def test_hard_forms_masked_python(text, token, secret):
    masked = mask_text(text)
    assert token in masked and secret not in masked, masked


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_not_masked_python(text):
    assert mask_text(text) == text


def test_mask_spark_matches_python(spark):
    ordinary = "我是来咨询的，村民反映路灯坏了。感谢您来电，谢谢来电人反映的情况"
    texts = [t for t, _, _ in CASES + FORMS] + ORDINARY + [ordinary]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    rows = df.select("t", mask_personal_data(F.col("t")).alias("m")).collect()
    for row in rows:
        assert row["m"] == mask_text(row["t"]), row["t"]
    assert [r["m"] for r in rows[-len(ORDINARY) - 1:]] == ORDINARY + [ordinary]  # ordinary words survive


def test_width_fold_is_nfkc_for_its_characters(spark):
    """Each folded character becomes what NFKC makes of it (zero-width ones, which NFKC keeps, are dropped)."""
    import unicodedata

    kept = {c: t for c, t in WIDTH_FOLD.items() if t}
    assert all(unicodedata.normalize("NFKC", c) == t for c, t in kept.items())
    assert len(kept) == 10 + 26 + 26 + 5 + 6 and sum(1 for t in WIDTH_FOLD.values() if not t) == 5
    text = "".join(WIDTH_FOLD) + "，：（）！？中文"
    got = spark.createDataFrame([(text,)], "t string").select(fold_width("t").alias("f")).first()["f"]
    assert got == text.translate(str.maketrans(WIDTH_FOLD))
    assert got.endswith("，：（）！？中文")  # Chinese punctuation is not folded


# A hotline line that failed to parse (cut short) as an ASCII-only exporter writes it: every Chinese
# character and, here, the digits of the phone number are \uXXXX escapes; the last escape is cut in half
# and a lone surrogate (an emoji cut in two) sits in the text.
ESCAPED_RAW = ('{"call_id":"RX1","caller_name":"\\u738b\\u79c0\\u82f1","caller_number":"13812345678",'
               '"transcript":[{"speaker":"\\u6765\\u7535\\u4eba","text":"\\u6211\\u53eb\\u738b\\u79c0\\u82f1\\ud83d'
               '\\uff0c\\u7535\\u8bdd\\u0031\\u0033\\u0039\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037'
               '\\u0038\\uff0c\\u8001\\u677f\\u5218\\u5efa\\u534e\\u4e0d\\u7ed9\\u94b1 \\u59d3\\u540d\\uff1a\\u6b27\\u9633\\u5a1c\\u5a1c\\u5')
ESCAPED_SECRETS = ["王秀英", "\\u738b\\u79c0\\u82f1", "13912345678", "\\u0031\\u0033\\u0039", "刘建华", "\\u5218\\u5efa",
                   "欧阳娜娜", "13812345678"]


def test_quarantined_raw_line_with_json_escapes_is_decoded_and_masked(spark):
    python = mask_text(ESCAPED_RAW)
    spark_out = spark.createDataFrame([(ESCAPED_RAW,)], "t string").select(mask_raw_record("t").alias("m")).first()["m"]
    assert spark_out == python
    assert not [s for s in ESCAPED_SECRETS if s in python], python
    assert "来电人" in python and "老板[姓名]" in python and "[电话]" in python  # decoded, then masked
    assert "\\ud83d" in python  # a lone surrogate stays escaped: it cannot be decoded


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


def test_placeholders_for_a_withheld_number_are_no_caller(spark):
    # As one pseudonym, every withheld-number call would be one caller, a "repeat" wherever two of them fall.
    values = ["匿名", "未知号码", "无", "0", "00000000", "1111-1111", "—", "13812345678", "0531-88881234", "12345",
              "(0734) 2123456"]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r["n"] for r in df.select(normalise_phone(F.col("v")).alias("n")).collect()]
    assert got == [None] * 7 + ["13812345678", "053188881234", "12345", "07342123456"]
    assert [normalise_phone_text(v) for v in values] == got                     # the Python twin agrees


def _fuzz_texts(n: int, seed: int) -> list[str]:
    """Short random texts over surnames, the verbs and titles after a name, and the excluded neighbours."""
    import random

    from fengqiao.core.privacy import _SURNAMES

    alphabet = list(_SURNAMES[:12]) + list("感多您你我们反映诉称先生女士等人的了，。 1a欧阳上官")
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(n)]


def test_name_before_verb_lookahead_changes_no_match(spark):
    """The speed-up look-ahead in front of name_before_verb is implied by the rule: same output without it."""
    import re

    from fengqiao.core.privacy import _CJK, _NAME_VERBS, _RULES

    fast = next(pattern for name, pattern, _, _ in _RULES if name == "name_before_verb")
    plain = fast.removeprefix(rf"(?=[{_CJK}]{{2,4}}(?:{_NAME_VERBS}))")
    assert plain != fast
    texts = _fuzz_texts(20000, seed=7)
    python = [(re.sub(fast, "[姓名]", t), re.sub(plain, "[姓名]", t)) for t in texts]
    assert all(a == b for a, b in python)
    assert sum(a != t for (a, _), t in zip(python, texts)) > 50  # the texts do exercise the rule
    df = spark.createDataFrame([(t,) for t in texts[:3000]], "t string")
    differing = df.where(F.regexp_replace("t", fast, "[姓名]") != F.regexp_replace("t", plain, "[姓名]")).count()
    assert differing == 0


def test_masking_compiles_without_falling_back_to_interpreted_code(spark):
    """Each rule group doubles the expression (when/otherwise refer to the masked text twice); past 64 KB of
    generated Java, Spark falls back to interpreted evaluation, several times slower. With the fallback
    switched off, that would be an error here."""
    text = "电话１３８ 1234 5678，我叫欧阳娜娜，住在经十路17923号，老板刘建华反映"
    df = spark.createDataFrame([(text,)] * 4, "t string")
    spark.conf.set("spark.sql.codegen.fallback", "false")
    try:
        total = df.select(F.sum(F.length(mask_personal_data(F.col("t"))))).first()[0]
    finally:
        spark.conf.unset("spark.sql.codegen.fallback")
    assert total == 4 * len(mask_text(text))


def test_rule_group_guards_skip_only_texts_their_rules_leave_alone(spark):
    """Each group of rules runs only where its guard finds its cheap necessary sign in the input: the masks must
    be those of every rule applied to every text. Random texts of numerals (written and spoken), separators,
    '@' and filler, around the numbers' shortest and longest forms, and the hard forms above."""
    import random

    from fengqiao.core.privacy import _RULES, _apply_rules

    rng = random.Random(7)
    alphabet = list("0123456789") * 4 + list("〇零一二三四五六七八九幺洞") + list(" -,，@.") + list("年月号元万转分机路栋室我叫来电人反映(（)）+")
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 30))) for _ in range(3000)]
    texts += ["电话0531 8888123", "电话0531-888812", "一三八一二三四五六", "一三八一二三四", "一三八一二三", "2024年3月5日欠款5000元",
              "x@y.cn", "卡号6222 0212 3456 7890", "138 1234 567", "(0531)88881234转8", *[t for t, _, _ in CASES + FORMS]]
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    rows = df.select(mask_personal_data("t").alias("guarded"),
                     _apply_rules(fold_width("t"), _RULES).alias("every_rule")).collect()
    differ = [(t, r["guarded"], r["every_rule"]) for t, r in zip(texts, rows) if r["guarded"] != r["every_rule"]]
    assert not differ, differ[:5]
