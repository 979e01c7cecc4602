"""The faster regex forms match exactly what the plain forms match (fengqiao.core.regex).

Random texts over an alphabet of the characters the rules care about (digits, numerals read aloud,
separators, cue words' characters, surnames) and ordinary Chinese: a look-ahead that were not implied by its
pattern, or a factoring that changed the order of alternatives, shows up as a different match.
"""
from __future__ import annotations

import random
import re

import pytest

from fengqiao.core import privacy
from fengqiao.core.disputes import KEYWORD_RULES
from fengqiao.core.lexicon import ESCALATION_TERMS
from fengqiao.core.regex import for_java, starting_with, word_alternation

ALPHABET = list("0123456789一二三四五六七八九十百万零幺洞 -,，:：()（）+@.xX号楼栋单元室路街道来电人当事申请被反映联系投诉举报我叫名姓是老板娘婆公爸妈张王李刘欧阳伟强的了在说")
KIN_WORDS = privacy._KIN_CUES.split("|")


def texts(n: int, seed: int, words=()) -> list[str]:
    rng = random.Random(seed)
    pool = ALPHABET + list(words)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def spans(pattern: str, text: str) -> list[tuple[int, int, tuple]]:
    return [(m.start(), m.end(), m.groups()) for m in re.finditer(pattern, text)]


@pytest.mark.parametrize("words", [KIN_WORDS, privacy._ROLE_CUES.split("|"), list(ESCALATION_TERMS),
                                   *[list(w) for w, _ in KEYWORD_RULES]],
                         ids=lambda w: w[0])
def test_word_alternation_matches_the_plain_alternation(words):
    plain, fast = "(?:" + "|".join(words) + ")", word_alternation(words)
    assert fast != plain
    for text in texts(3000, seed=len(words), words=words):
        assert spans(fast, text) == spans(plain, text), text


def test_word_alternation_keeps_the_order_within_a_first_character():
    assert re.search(word_alternation(["老板娘", "老板"]), "老板娘说").group() == "老板娘"
    assert re.search(word_alternation(["a", "ab"]), "ab").group() == "a"  # as "a|ab" would
    with pytest.raises(ValueError):
        word_alternation(["a.b"])


def _without_leading_lookahead(pattern: str) -> str:
    return re.sub(LEADING, "", pattern, count=1)


LEADING = r"^\(\?=\[[^\]]*\]\)"


@pytest.mark.parametrize("rule", [r for r in privacy._RULES if re.match(LEADING, r[1])], ids=lambda r: r[0])
def test_masking_rules_look_ahead_changes_no_match(rule):
    _, pattern, _, _ = rule
    plain = _without_leading_lookahead(pattern)
    assert plain != pattern
    for text in texts(4000, seed=hash(rule[0]) % 1000, words=KIN_WORDS + ["13812345678", "0531-88881234", "一三八"]):
        assert spans(pattern, text) == spans(plain, text), text


def test_starting_with_is_only_a_look_ahead():
    assert starting_with("0-9", "x") == "(?=[0-9])x"
    # the masks still do their job with the faster forms
    masked = privacy.mask_text("我老婆王秀英电话１３８１２３４５６７８，住建设路12号3栋，来电人张伟反映")
    assert "王秀英" not in masked and "13812345678" not in masked and "张伟" not in masked


# --- for_java: wide classes as trees Java tests fast --------------------------------------------------------

def test_for_java_rewrites_only_wide_plain_classes():
    assert for_java("[0-9]x[A-Za-z0-9._%+\\-]") == "[0-9]x[A-Za-z0-9._%+\\-]"  # Latin-1: a bit set already
    assert for_java("[我你他她]") == "[我你他她]"  # four members: tested one by one, no tree
    for untouched in ("[^我你他她们的了]", "[\\s我你他她们的了]", "[我你他[她们的了]]"):
        assert for_java(untouched) == untouched
    tree = for_java("(?=[一二三四五六七])\\[x]")
    assert tree.startswith("(?=[[") and "&&" in tree and tree.endswith("])\\[x]")


def _classes(pattern: str) -> list[str]:
    return re.findall(r"(?<!\\)\[(?!\^)(?:\\.|[^\]\[\\])*\]", pattern)


def test_for_java_classes_have_the_same_members_in_java(spark):
    """Every wide class of the masking rules, guards and keyword rules, against its tree, on each of its own
    characters, their neighbours and a spread of other CJK and ASCII characters."""
    from pyspark.sql import functions as F
    patterns = [p for _, p, _, _ in privacy._RULES] + [g for g, _ in privacy._RULE_GROUPS] + \
        [word_alternation(w) for w, _ in KEYWORD_RULES] + [word_alternation(ESCALATION_TERMS)]
    classes = sorted({c for p in patterns for c in _classes(p) if for_java(c) != c})
    assert len(classes) >= 10  # the surnames, the kin words' first characters, the numerals read aloud, ...
    codes = {ord(ch) + d for c in classes for ch in c for d in (-1, 0, 1)} | set(range(0x20, 0x7F)) \
        | set(range(0x4E00, 0x9FFF, 37))
    chars = spark.createDataFrame([(chr(c),) for c in sorted(codes) if not 0xD800 <= c <= 0xDFFF], "c string")
    plain = [F.col("c").rlike(f"^{c}$").alias(f"p{i}") for i, c in enumerate(classes)]
    fast = [F.col("c").rlike(f"^{for_java(c)}$").alias(f"f{i}") for i, c in enumerate(classes)]
    rows = chars.select("c", *plain, *fast).collect()
    members = 0
    for row in rows:
        for i in range(len(classes)):
            assert row[f"p{i}"] == row[f"f{i}"], (classes[i], row["c"])
            members += row[f"p{i}"]
    assert members > 300


def test_for_java_masks_and_keyword_rules_match_alike_in_java(spark):
    """Whole rules in Java, plain against for_java, on random texts over the rules' characters."""
    from pyspark.sql import functions as F
    words = KIN_WORDS + privacy._ROLE_CUES.split("|") + ["13812345678", "一三八", "反映", "女士", "某某"]
    pool = texts(4000, seed=11, words=words + list(privacy._SURNAMES[::7]))
    df = spark.createDataFrame([(t,) for t in pool], "t string").cache()
    checks = {name: (F.regexp_replace("t", p, "<>"), F.regexp_replace("t", for_java(p), "<>"))
              for name, p, _, _ in privacy._RULES if for_java(p) != p}
    checks.update({f"kw{i}": (F.col("t").rlike(word_alternation(w)), F.col("t").rlike(for_java(word_alternation(w))))
                   for i, (w, _) in enumerate(KEYWORD_RULES)})
    assert {"name_after_kin", "name_after_role", "name_before_verb", "spoken_number"} <= set(checks)
    differing = df.select(*[F.sum((a != b).cast("int")).alias(k) for k, (a, b) in checks.items()]).first()
    assert all(v == 0 for v in differing.asDict().values()), differing
    masked = df.select(*[F.sum((a != F.col("t")).cast("int")).alias(k) for k, (a, _) in checks.items()
                         if not k.startswith("kw")]).first()
    assert masked["name_after_kin"] > 20 and masked["name_after_role"] > 20  # the texts do exercise the rules
