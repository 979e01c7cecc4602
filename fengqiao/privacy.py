"""Masking of personal data in free text as native Spark expressions (keyed pseudonyms: fengqiao.pseudonyms).

The same rules exist as one table of regexes so that Spark (Java regex) and plain Python
(:func:`mask_text`, for log lines and quarantine messages built on the driver) mask alike.
Order matters: the longest digit patterns (ID, bank card) are replaced before phone numbers so a
card number is not half-masked as a phone. Over-masking is preferred to leaking.
"""
from __future__ import annotations

import re
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from fengqiao.pseudonyms import pseudonym  # noqa: F401  (silver and tests import it from here, beside the masks)

_CJK = "\u4e00-\u9fff"
_NO_DIGIT_BEFORE = r"(?<![0-9])"
_NO_DIGIT_AFTER = r"(?![0-9])"
# Words that commonly follow 我是 but are not names ("我是来咨询的", "我是业主"): not masked.
_NOT_A_NAME = "(?!来|想|在|说|要|个|这|那|不|他|她|本|农民|业主|外地|这里|村里|工人|老人|房东|租户|司机)"

_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
             "傅阎康齐常乔温施牛洪葛樊柴殷庞聂童颜申包左鲁卫祝梅应单焦车安尚伍舒柳裴宗项房詹翁甘景纪邢蓝司褚盛岳")
assert all(_CJK[0] <= c <= _CJK[-1] for c in _SURNAMES), "name_before_verb's look-ahead takes surnames for CJK"
# Roles that introduce a person's name in order summaries and case notes ("来电人张伟反映").
_ROLE_CUES = "来电人|当事人|申请人|被申请人|反映人|联系人|投诉人|举报人"
_NOT_A_NAME_AFTER_ROLE = ("(?!反映|来电|投诉|表示|要求|称|等|的|和|与|及|在|于|因|对"
                          # header and form words that follow a role ("当事人数", "联系人电话", "申请人姓名")
                          "|数|电话|手机|号码|姓名|名称|方式|地址|住址|信息|身份|签字|签名|双方|一方|之间|本人|代表|情况)")
# What may follow a role's name: a reporting verb, a conjunction, punctuation or a space.
_AFTER_ROLE_NAME = "反映|来电|投诉|表示|称|等|与|和|因|要求|拖欠|[，,:：。；;\\s]"
# Titles that stand for a name after a role ("当事人李女士", "申请人王某某", "被申请人赵先生").
_TITLES = "某某|某|女士|先生"

# Words after which a surname and one or two characters are taken for a name ("张伟反映", "李女士").
_NAME_VERBS = "反映|诉称|先生|女士|等人"

# (name, pattern, replacement token, keep group 1 before the token)
_RULES: list[tuple[str, str, str, bool]] = [
    ("id_card", _NO_DIGIT_BEFORE + r"[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])", "[身份证]", False),
    ("bank_card", _NO_DIGIT_BEFORE + r"(?:[0-9]{16,19}|[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)"
     + _NO_DIGIT_AFTER, "[银行卡]", False),
    ("mobile", _NO_DIGIT_BEFORE + r"(?:(?:\+|00)?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _NO_DIGIT_AFTER,
     "[电话]", False),
    ("landline", _NO_DIGIT_BEFORE + r"(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ -]?[0-9]{7,8}" + _NO_DIGIT_AFTER,
     "[电话]", False),
    # Street address: a few characters of street name, 路/街/巷/道, house number 号, then any
    # 号楼/栋/单元/室 parts. The name part stops at words like 在/住 so the sentence stays readable.
    ("street_address", rf"[^\s0-9，。,、：:；;！？!?在住是到从于的和]{{1,8}}(?:大道|路|街|巷|道)[0-9一二三四五六七八九十百]+(?:号楼|栋|幢|号)"
     rf"(?:[0-9]+(?:号楼|栋|幢))?(?:[0-9]+单元)?(?:[0-9]+室?)?", "[地址]", False),
    ("building", _NO_DIGIT_BEFORE + r"[0-9]+(?:号楼|栋|幢)(?:[0-9]+单元)?(?:[0-9]+室?)?|[0-9]+单元[0-9]+室?",
     "[地址]", False),
    ("name_after_cue", rf"((?:我叫|叫我|名叫|我姓名是|姓名[:：]?|我是{_NOT_A_NAME})\s*)[{_CJK}]{{2,3}}", "[姓名]", True),
    ("title_after_role", rf"((?:{_ROLE_CUES})[:：]?\s*)[{_SURNAMES}](?:{_TITLES})", "[姓名]", True),
    # A name after a role ends at a verb or punctuation, or at the end of the text when it starts
    # with a common surname ("联系人张建国"): a bare word at the end ("联系人电话") is left alone.
    ("name_after_role", rf"((?:{_ROLE_CUES})[:：]?\s*){_NOT_A_NAME_AFTER_ROLE}(?:[{_CJK}]{{2,3}}"
     rf"(?={_AFTER_ROLE_NAME})|[{_SURNAMES}][{_CJK}]{{1,2}}$)", "[姓名]", True),
    # A common surname plus one or two characters right before a reporting verb or a title
    # ("张伟反映", "李女士称"): how order summaries and case notes name people without a cue word.
    # The leading look-ahead is implied by the rest (a surname is a CJK character) and changes no match;
    # it is there for speed: Java tests a class of 149 single characters one by one at every position,
    # a CJK range and a verb are tested in a few steps, and most positions fail them.
    ("name_before_verb", rf"(?=[{_CJK}]{{2,3}}(?:{_NAME_VERBS}))(?<![感多])[{_SURNAMES}](?![您你我他她谢们余])"
     rf"[{_CJK}]{{1,2}}(?={_NAME_VERBS})", "[姓名]", False),
]

# Personal fields of a raw JSON record (a truncated hotline line cannot be parsed into columns).
_JSON_FIELD_RULES: list[tuple[str, str, str, bool]] = [
    ("json_caller_name", r'("caller_name"\s*:\s*)"[^"]*"?', '"[姓名]"', True),
    ("json_address", r'("address_text"\s*:\s*)"[^"]*"?', '"[地址]"', True),
    ("json_caller_number", r'("caller_number"\s*:\s*)"[^"]*"?', '"[电话]"', True),
]

_NAME_SEPARATORS = r"[、,，;；\s]+"


def _java_replacement(token: str, keep_prefix: bool) -> str:
    return ("$1" if keep_prefix else "") + token


def _apply_rules(col: Column, rules) -> Column:
    return reduce(
        lambda acc, rule: F.regexp_replace(acc, rule[1], _java_replacement(rule[2], rule[3])), rules, col
    )


# The rules in three groups, each behind a cheap test of the input text that every match of the group
# needs (a find of a short literal or three digits). Why: the rules are tried at every position of
# every transcript (~0.1 ms a call); most texts hold no digits, no address words and no name cues, and
# skip the group. Exact, not a heuristic: the tokens put in by earlier rules ([电话], [地址], ...) hold
# none of these characters, so a later rule can only match where its group's test already holds on
# the input.
_RULE_GROUPS: list[tuple[str, list[str]]] = [
    (r"[0-9]{3}", ["id_card", "bank_card", "mobile", "landline"]),
    (r"(?:路|街|巷|道)[0-9一二三四五六七八九十百]|[0-9](?:号楼|栋|幢|单元)", ["street_address", "building"]),
    (rf"我叫|叫我|名叫|姓名|我是|{_ROLE_CUES}|反映|诉称|先生|女士|等人",
     ["name_after_cue", "title_after_role", "name_after_role", "name_before_verb"]),
]
assert [n for _, names in _RULE_GROUPS for n in names] == [r[0] for r in _RULES], "groups must keep the rule order"
_GROUPED = [(guard, [r for r in _RULES if r[0] in names]) for guard, names in _RULE_GROUPS]


def mask_personal_data(col: Column | str) -> Column:
    """Replace phone, ID, bank-card numbers, street addresses and cued names in free text."""
    column = F.col(col) if isinstance(col, str) else col
    masked = column
    for guard, rules in _GROUPED:
        masked = F.when(column.rlike(guard), _apply_rules(masked, rules)).otherwise(masked)
    return masked


def mask_raw_record(col: Column | str) -> Column:
    """Mask a raw delivered record (JSON line or CSV line) for the quarantine table."""
    column = F.col(col) if isinstance(col, str) else col
    return mask_personal_data(_apply_rules(column, _JSON_FIELD_RULES))


def mask_known_names(text_col: Column | str, name_col: Column | str) -> Column:
    """Replace the record's own known names (one or several, separated by 、,，;) in its text.

    A native higher-order ``aggregate`` over the split names: no Python UDF. Single characters are
    skipped: replacing a one-character "name" would shred the text.
    """
    text = F.col(text_col) if isinstance(text_col, str) else text_col
    names = F.col(name_col) if isinstance(name_col, str) else name_col
    parts = F.coalesce(F.split(names, _NAME_SEPARATORS), F.array().cast("array<string>"))
    return F.aggregate(
        parts,
        text,
        lambda acc, name: F.when(F.length(F.trim(name)) >= 2, F.replace(acc, F.trim(name), F.lit("[姓名]")))
        .otherwise(acc),
    )


def normalise_phone(col: Column | str) -> Column:
    """Digits of a phone number without +86/0086, spaces, dashes or brackets; null when empty."""
    column = F.col(col) if isinstance(col, str) else col
    digits = F.regexp_replace(column, r"[\s\-()（）]", "")
    national = F.regexp_replace(digits, r"^(?:\+86|0086|86(?=1[3-9][0-9]{9}$))", "")
    return F.when(F.length(national) > 0, national)


# --- the same rules in plain Python ----------------------------------------------------------------

def _python_rules(rules):
    return [(re.compile(pattern), (r"\g<1>" if keep else "") + token) for _, pattern, token, keep in rules]


_PY_RULES = _python_rules(_RULES)
_PY_JSON_RULES = _python_rules(_JSON_FIELD_RULES)


def mask_text(s: str | None) -> str | None:
    """Pure-Python twin of :func:`mask_personal_data` (plus raw-record fields) for driver-side text."""
    if s is None:
        return None
    for pattern, replacement in _PY_JSON_RULES + _PY_RULES:
        s = pattern.sub(replacement, s)
    return s


def mask_known_names_text(s: str | None, names: str | None) -> str | None:
    """Pure-Python twin of :func:`mask_known_names`."""
    if not s or not names:
        return s
    for name in re.split(_NAME_SEPARATORS, names):
        if len(name.strip()) >= 2:
            s = s.replace(name.strip(), "[姓名]")
    return s
