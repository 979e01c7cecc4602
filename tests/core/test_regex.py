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
from fengqiao.core.regex import starting_with, word_alternation

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
