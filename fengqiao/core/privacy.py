"""Masking of personal data in free text as native Spark expressions (keyed pseudonyms: fengqiao.core.pseudonyms).

The same rules exist as one table of regexes so that Spark (Java regex) and plain Python
(:func:`mask_text`, for log lines and quarantine messages built on the driver) mask alike.
Order matters: the longest digit patterns (ID, bank card) are replaced before phone numbers so a
card number is not half-masked as a phone. Over-masking is preferred to leaking.

Before the rules, text is folded (:data:`WIDTH_FOLD`): full-width digits and Latin letters, the
ideographic space and other odd spaces become their ASCII forms (what NFKC does to them) and
zero-width characters go, so a number written ``１３８　１２３４`` is seen as ``138 1234``. The
stored text is this folded text with the masks in it (docs/data-dictionary.md, "Personal data").
"""
from __future__ import annotations

import re
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from fengqiao.core.regex import for_java, starting_with, word_alternation
from fengqiao.core.pseudonyms import pseudonym  # noqa: F401  (silver and tests import it from here, beside the masks)

_CJK = "\u4e00-\u9fff"
_NO_DIGIT_BEFORE = r"(?<![0-9])"
_NO_DIGIT_AFTER = r"(?![0-9])"
# Numbers read out or typed in groups: "138 1234 5678", "0755，1234，5678", "3701 0219 9001 0112 3X".
# A grouped number must not continue past a separator, or "电话13812345678，13912345678" would be one.
_GROUP_SEP = "[ \\-,，]"
_NO_DIGIT_BEFORE_GROUPED = r"(?<![0-9])(?<![0-9]" + _GROUP_SEP + ")"
_NO_DIGIT_AFTER_GROUPED = "(?!" + _GROUP_SEP + "?[0-9])"
# An extension after a number: "0531-88881234转806", "分机 12".
_EXTENSION = r"(?:\s?(?:转|分机)\s?[0-9]{1,6})?"
# Digits as read aloud: 一三八…, 幺 for 1 and 洞 for 0 as operators say them.
_SPOKEN_DIGITS = "〇零一二三四五六七八九幺洞"
# Words that commonly follow 我是 but are not names ("我是来咨询的", "我是业主"): not masked.
_NOT_A_NAME = "(?!来|想|在|说|要|个|这|那|不|他|她|本|农民|业主|外地|这里|村里|工人|老人|房东|租户|司机)"

_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
             "傅阎康齐常乔温施牛洪葛樊柴殷庞聂童颜申包左鲁卫祝梅应单焦车安尚伍舒柳裴宗项房詹翁甘景纪邢蓝司褚盛岳萧文匡屈旷阳资")
assert all(_CJK[0] <= c <= _CJK[-1] for c in _SURNAMES), "name_before_verb's look-ahead takes surnames for CJK"
# Two-character surnames: a name is the surname and one or two characters (欧阳娜娜, 上官婉儿, 司马相如).
_COMPOUND_SURNAMES = ("欧阳|上官|司马|诸葛|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|轩辕|令狐|独孤|南宫|西门|端木"
                      "|呼延|申屠|太史|澹台|公冶|宗政|濮阳|淳于|赫连|钟离|闻人|万俟|拓跋|完颜")
_ANY_SURNAME = f"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
# A name of unknown surname: a compound surname and one or two characters, else two or three characters.
_CUED_NAME = f"(?:(?:{_COMPOUND_SURNAMES})[{_CJK}]{{1,2}}|[{_CJK}]{{2,3}})"
# Kinship and work roles said right before a name ("我老婆王秀英", "老板刘建华", "我爸张国强"). Longer
# words first: the regex takes the first alternative that matches.
_KIN_CUES = ("老板娘|老板|包工头|工头|经理|厂长|房东|老婆|老公|媳妇|丈夫|妻子|爱人|前妻|前夫|男人|老倌|爸爸|妈妈|我爸|我妈|我娘"
             "|父亲|母亲|婆婆|公公|岳父|岳母|丈母娘|女婿|儿媳|儿子|女儿|孙子|哥哥|姐姐|弟弟|妹妹|嫂子|姐夫|妹夫|叔叔|舅舅"
             "|姑姑|侄子|外甥|邻居|同事|亲戚")
# Factored by first character behind a look-ahead on those characters, for speed (fengqiao.core.regex): Java
# would try each of the ~50 words at every position of the text.
_KIN_CUE = word_alternation(_KIN_CUES.split("|"))
# Characters that end a name after a kin word: the words that follow a name in speech ("老板刘强不给钱").
_NOT_IN_NAME = "我你他她们的了是也都就还和跟在说不没把被让给要又去来该这那个些家里"
_KIN_NAME = (f"(?:(?:{_COMPOUND_SURNAMES})[{_CJK}]{{1,2}}"
             f"|[{_SURNAMES}](?![{_NOT_IN_NAME}])[{_CJK}](?:(?![{_NOT_IN_NAME}])[{_CJK}])?)")
# Roles that introduce a person's name in order summaries and case notes ("来电人张伟反映").
_ROLE_CUES = "来电人|当事人|申请人|被申请人|反映人|联系人|投诉人|举报人"
_ROLE_CUE = word_alternation(_ROLE_CUES.split("|"))  # the same words, faster in Java (fengqiao.core.regex)
# Words that follow a role but are no name; factored by first character (fengqiao.core.regex): this look-ahead is
# tried after every speaker label of every transcript ("来电人:").
_NOT_A_NAME_AFTER_ROLE = "(?!" + word_alternation(
    "反映|来电|投诉|表示|要求|称|等|的|和|与|及|在|于|因|对"
    # header and form words that follow a role ("当事人数", "联系人电话", "申请人姓名")
    "|数|电话|手机|号码|姓名|名称|方式|地址|住址|信息|身份|签字|签名|双方|一方|之间|本人|代表|情况"
    # another role ("来电人:联系人：…", a caller's turn in a transcript) and the words a caller's turn opens
    # with after the speaker label ("来电人:你好，")
    f"|{_ROLE_CUES}|你好|您好|喂|嗯|哎|唉|呃|哦|啊|好的|谢谢|是的|对的|我|你|您|他|她|这|那|就|还|没|不".split("|")) + ")"
# What may follow a role's name: a reporting verb, a conjunction, punctuation or a space.
_AFTER_ROLE_NAME = "反映|来电|投诉|表示|称|等|与|和|因|要求|拖欠|[，,:：。；;、/（(\\s]"
# Titles that stand for a name after a role ("当事人李女士", "申请人王某某", "被申请人赵先生").
_TITLES = "某某|某|女士|先生"

# Words after which a surname and one or two characters are taken for a name ("张伟反映", "李女士").
_NAME_VERBS = "反映|诉称|先生|女士|等人"

# (name, pattern, replacement token, keep group 1 before the token)
_RULES: list[tuple[str, str, str, bool]] = [
    ("email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+", "[邮箱]", False),
    # An ID number in groups ("370102 19900101 123X") before the plain rules, which would mask a
    # phone-shaped part of it and leave the rest.
    ("id_card_grouped", starting_with("1-9", _NO_DIGIT_BEFORE_GROUPED) + r"[1-9](?:[ \-]?[0-9]){16}[ \-]?[0-9Xx]"
     + "(?!" + _GROUP_SEP + "?[0-9A-Za-z])", "[身份证]", False),
    ("id_card", starting_with("1-9", _NO_DIGIT_BEFORE) + r"[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])", "[身份证]", False),
    ("bank_card", starting_with("0-9", _NO_DIGIT_BEFORE) + r"(?:[0-9]{16,19}|[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)"
     + _NO_DIGIT_AFTER, "[银行卡]", False),
    ("mobile", starting_with("+018", _NO_DIGIT_BEFORE) + r"(?:(?:\+|00)?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _EXTENSION
     + _NO_DIGIT_AFTER, "[电话]", False),
    ("landline", starting_with("(（0", _NO_DIGIT_BEFORE) + r"(?:[(（]0[0-9]{2,3}[)）]|0[0-9]{2,3})[ -]?[0-9]{7,8}" + _EXTENSION
     + _NO_DIGIT_AFTER, "[电话]", False),
    # The same numbers in any grouping ("138，1234，5678", "1381 234 5678", "0755 1234 5678").
    ("mobile_grouped", starting_with("+018", _NO_DIGIT_BEFORE_GROUPED) + "(?:(?:\\+|00)?86" + _GROUP_SEP + "?)?1" + _GROUP_SEP
     + "?[3-9](?:" + _GROUP_SEP + "?[0-9]){9}" + _EXTENSION + _NO_DIGIT_AFTER_GROUPED, "[电话]", False),
    ("landline_grouped", starting_with("(（0", _NO_DIGIT_BEFORE_GROUPED) + "(?:[(（]0[0-9]{2,3}[)）]|0[1-9][0-9]{1,2})" + _GROUP_SEP
     + "?[1-9](?:" + _GROUP_SEP + "?[0-9]){6,7}" + _EXTENSION + _NO_DIGIT_AFTER_GROUPED, "[电话]", False),
    # Seven or more digits read aloud, alone or mixed with written ones (一三八一二三四五六七八, 幺三八…):
    # a phone or ID number; dates and amounts have 年/月/十/百/万 between their numerals.
    ("spoken_number", starting_with(_SPOKEN_DIGITS + "0-9", f"(?<![{_SPOKEN_DIGITS}0-9十百千万亿两])"
     f"(?=[0-9 \\-,，]*[{_SPOKEN_DIGITS}])[{_SPOKEN_DIGITS}0-9](?:{_GROUP_SEP}?[{_SPOKEN_DIGITS}0-9]){{6,}}"),
     "[号码]", False),
    # Street address: a few characters of street name, 路/街/巷/道, house number 号, then any
    # 号楼/栋/单元/室 parts. The name part stops at words like 在/住 so the sentence stays readable.
    ("street_address", rf"[^\s0-9，。,、：:；;！？!?在住是到从于的和]{{1,8}}(?:大道|路|街|巷|道)[0-9一二三四五六七八九十百]+(?:号楼|栋|幢|号)"
     rf"(?:[0-9]+(?:号楼|栋|幢))?(?:[0-9]+单元)?(?:[0-9]+室?)?", "[地址]", False),
    ("building", starting_with("0-9", r"(?:(?<![0-9])[0-9]+(?:号楼|栋|幢)(?:[0-9]+单元)?(?:[0-9]+室?)?"
                                      r"|[0-9]+单元[0-9]+室?)"),
     "[地址]", False),
    ("name_after_cue", starting_with("我叫名姓", rf"((?:我叫|叫我|名叫|我姓名是|姓名[:：]?|我是{_NOT_A_NAME})\s*)"
                                                 rf"{_CUED_NAME}"), "[姓名]", True),
    ("title_after_role", rf"({_ROLE_CUE}[:：]?\s*){_ANY_SURNAME}(?:{_TITLES})", "[姓名]", True),
    # A name after a role ends at a verb or punctuation, or at the end of the text when it starts
    # with a common surname ("联系人张建国"): a bare word at the end ("联系人电话") is left alone.
    ("name_after_role", rf"({_ROLE_CUE}[:：]?\s*){_NOT_A_NAME_AFTER_ROLE}(?:{_CUED_NAME}"
     rf"(?={_AFTER_ROLE_NAME})|{_ANY_SURNAME}[{_CJK}]{{1,2}}$)", "[姓名]", True),
    ("name_after_kin", rf"({_KIN_CUE}\s*){_KIN_NAME}", "[姓名]", True),
    # A common surname plus one or two characters right before a reporting verb or a title
    # ("张伟反映", "李女士称"): how order summaries and case notes name people without a cue word.
    # The leading look-ahead is implied by the rest (a surname is a CJK character) and changes no match;
    # it is there for speed: Java tests a class of 149 single characters one by one at every position,
    # a CJK range and a verb are tested in a few steps, and most positions fail them.
    ("name_before_verb", rf"(?=[{_CJK}]{{2,4}}(?:{_NAME_VERBS}))(?<![感多])(?:(?:{_COMPOUND_SURNAMES})[{_CJK}]{{1,2}}"
     rf"|[{_SURNAMES}](?![您你我他她谢们余])[{_CJK}]{{1,2}})(?={_NAME_VERBS})", "[姓名]", False),
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
    # for_java: the same patterns with their wide character classes in the form Java tests fast
    return reduce(
        lambda acc, rule: F.regexp_replace(acc, for_java(rule[1]), _java_replacement(rule[2], rule[3])), rules, col
    )


# The rules in groups, each behind a cheap test of the input text that every match of the group
# needs (a find of a short literal or two numerals). Why: the rules are tried at every position of
# every transcript (~0.1 ms a call); most texts hold no digits, no address words and no name cues, and
# skip the group. Exact, not a heuristic: the tokens put in by earlier rules ([电话], [地址], ...) hold
# none of these characters, so a later rule can only match where its group's test already holds on
# the input.
# Three groups, no more: each group refers to the text masked so far twice (when/otherwise), so the
# expression tree doubles with every group; at eight groups Spark's generated code passed 64 KB and fell
# back to interpreted evaluation, three times slower (tests/core/test_privacy.py bounds the size).
_NUMERAL = f"[0-9{_SPOKEN_DIGITS}]"
# Every number rule needs an "@" or seven numerals with at most one separator between two of them (the shortest,
# a landline's 7 digits after its area code, and a spoken number's 7 numerals); dates and amounts ("2024年3月",
# "5000元") have fewer, and 70-85% of transcripts skip the nine rules (two adjacent numerals let nearly all through).
_RULE_GROUPS: list[tuple[str, list[str]]] = [
    (f"@|{_NUMERAL}(?:{_GROUP_SEP}?{_NUMERAL}){{6}}", ["email", "id_card_grouped", "id_card", "bank_card", "mobile", "landline",
                                              "mobile_grouped", "landline_grouped", "spoken_number"]),
    (r"(?:路|街|巷|道)[0-9一二三四五六七八九十百]|[0-9](?:号楼|栋|幢|单元)", ["street_address", "building"]),
    (rf"我叫|叫我|名叫|姓名|我是|{_ROLE_CUES}|{_KIN_CUE}|{_NAME_VERBS}",
     ["name_after_cue", "title_after_role", "name_after_role", "name_after_kin", "name_before_verb"]),
]
assert [n for _, names in _RULE_GROUPS for n in names] == [r[0] for r in _RULES], "groups must keep the rule order"
_GROUPED = [(guard, [r for r in _RULES if r[0] in names]) for guard, names in _RULE_GROUPS]


# The part of NFKC that matters to the rules, as a one-to-one character map (Spark's ``translate``; Spark
# has no NFKC). Full-width digits and Latin letters, ＋－＠．＿, the ideographic space and other
# spaces become ASCII; zero-width characters (listed last, with no counterpart) are deleted. Not the
# whole of NFKC: that would also turn Chinese punctuation (，：（）！？) into ASCII and change text that
# the keyword rules and text models read, for no gain to the rules, which accept both forms.
_FOLD_FROM = ("".join(chr(c) for c in range(0xFF10, 0xFF1A)) + "".join(chr(c) for c in range(0xFF21, 0xFF3B))
              + "".join(chr(c) for c in range(0xFF41, 0xFF5B)) + "＋－＠．＿\u3000\u00a0\u2002\u2003\u2009\u202f")
_FOLD_TO = "0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz" + "+-@._" + " " * 6
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
WIDTH_FOLD = {**dict(zip(_FOLD_FROM, _FOLD_TO)), **dict.fromkeys(_ZERO_WIDTH, "")}

# JSON \uXXXX escapes (a surrogate pair as one): exporters that write ASCII-only JSON escape every
# Chinese character, and a line that cannot be parsed reaches quarantine still escaped. A lone
# surrogate (a line cut between the two halves) is left as it is: it is no text and cannot be decoded.
_JSON_ESCAPE = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4}"


def fold_width(col: Column | str) -> Column:
    """Full-width digits/letters and odd spaces as ASCII, zero-width characters gone (:data:`WIDTH_FOLD`)."""
    column = F.col(col) if isinstance(col, str) else col
    return F.translate(column, _FOLD_FROM + _ZERO_WIDTH, _FOLD_TO)


def decode_json_escapes(col: Column | str) -> Column:
    """``\\u738b`` -> 王 in raw text, natively: each escape found is replaced by its UTF-16 decoding."""
    column = F.col(col) if isinstance(col, str) else col
    escapes = F.regexp_extract_all(column, F.lit(_JSON_ESCAPE), 0)
    return F.aggregate(
        escapes, column,
        lambda acc, esc: F.replace(acc, esc, F.decode(F.unhex(F.regexp_replace(esc, r"\\u", "")), "UTF-16BE")))


def mask_personal_data(col: Column | str) -> Column:
    """Fold widths, then replace e-mail, phone, ID, bank-card numbers, addresses and cued names in free text."""
    column = fold_width(col)
    masked = column
    for guard, rules in _GROUPED:
        masked = F.when(column.rlike(for_java(guard)), _apply_rules(masked, rules)).otherwise(masked)
    return masked


def mask_raw_record(col: Column | str) -> Column:
    """Mask a raw delivered record (JSON line or CSV line) for the quarantine table, escapes decoded first."""
    return mask_personal_data(_apply_rules(decode_json_escapes(col), _JSON_FIELD_RULES))


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


# What exporters write for a withheld or unknown number ("匿名", "未知", "无", "0", "00000000") is no number: such
# calls have no caller. As one pseudonym they would be one caller heard everywhere, a "repeat" in every region
# two of them reach in a month.
_PHONE_NUMBER = r"^[0-9]{5,}$"  # 5 digits up: service lines such as 12345
_ONE_DIGIT_REPEATED = r"^([0-9])\1*$"
_PHONE_PUNCTUATION = r"[\s\-()（）]"
_COUNTRY_PREFIX = r"^(?:\+86|0086|86(?=1[3-9][0-9]{9}$))"


def normalise_phone(col: Column | str) -> Column:
    """Digits of a phone number without +86/0086, spaces, dashes or brackets; null when empty or no number
    (fewer than 5 digits, anything but digits, one digit repeated: placeholders for a withheld number)."""
    column = F.col(col) if isinstance(col, str) else col
    national = F.regexp_replace(F.regexp_replace(column, _PHONE_PUNCTUATION, ""), _COUNTRY_PREFIX, "")
    return F.when(national.rlike(_PHONE_NUMBER) & ~national.rlike(_ONE_DIGIT_REPEATED), national)


# --- the same rules in plain Python ----------------------------------------------------------------

def _python_rules(rules):
    return [(re.compile(pattern), (r"\g<1>" if keep else "") + token) for _, pattern, token, keep in rules]


_PY_RULES = _python_rules(_RULES)
_PY_JSON_RULES = _python_rules(_JSON_FIELD_RULES)


_PY_FOLD = str.maketrans(WIDTH_FOLD)
_PY_JSON_ESCAPE = re.compile(_JSON_ESCAPE)


def _decode_escape(match: re.Match) -> str:
    return bytes.fromhex(match.group(0).replace("\\u", "")).decode("utf-16-be")


def mask_text(s: str | None) -> str | None:
    """Pure-Python twin of :func:`mask_raw_record` (escapes, raw-record fields, then
    :func:`mask_personal_data`) for driver-side text; equal to :func:`mask_personal_data` on text
    without JSON escapes or fields."""
    if s is None:
        return None
    s = _PY_JSON_ESCAPE.sub(_decode_escape, s)
    for pattern, replacement in _PY_JSON_RULES:
        s = pattern.sub(replacement, s)
    s = s.translate(_PY_FOLD)
    for pattern, replacement in _PY_RULES:
        s = pattern.sub(replacement, s)
    return s


def normalise_phone_text(number: str | None) -> str | None:
    """Pure-Python twin of :func:`normalise_phone` (the same patterns)."""
    national = re.sub(_COUNTRY_PREFIX, "", re.sub(_PHONE_PUNCTUATION, "", number or ""))
    return national if re.search(_PHONE_NUMBER, national) and not re.search(_ONE_DIGIT_REPEATED, national) else None


def mask_known_names_text(s: str | None, names: str | None) -> str | None:
    """Pure-Python twin of :func:`mask_known_names`."""
    if not s or not names:
        return s
    for name in re.split(_NAME_SEPARATORS, names):
        if len(name.strip()) >= 2:
            s = s.replace(name.strip(), "[姓名]")
    return s
