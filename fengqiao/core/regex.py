"""Faster forms of the same regular expressions for Java's engine (Spark's ``rlike`` and ``regexp_replace``).

Java's regex engine tries a pattern at every position of the text, and an alternation of words one word after
the other. Two rewrites make most positions fail in one step without changing a single match:

- a look-ahead on the possible first characters in front of a pattern (:func:`starting_with`): implied by
  what the pattern consumes first, so it changes nothing but where the engine gives up early;
- an alternation of words factored by first character (:func:`word_alternation`): ``老板娘|老板|老婆`` becomes
  ``老(?:板娘|板|婆)``. At a position only words that start with its character can match, and among those the
  order is kept, so the alternative chosen (and every backtracking step after it) is the same.

Measured on 414,718 transcripts of a city drop (local[2]): the kin-word rule of the masks took 6.8 s as one
alternation of 50 words (benchmarks/results/2026-12-04-ingest-city.md gives the whole stage).
DuckDB's RE2 has no look-around: text that DuckDB also reads (fengqiao.core.lexicon) keeps the plain forms.
"""
from __future__ import annotations

_METACHARACTERS = set("\\^$.|?*+()[]{}-&")


def _class_body(chars) -> str:
    return "".join("\\" + c if c in _METACHARACTERS else c for c in sorted(chars))


def starting_with(first_chars: str, pattern: str) -> str:
    """``pattern`` behind a look-ahead on ``first_chars`` (a character-class body: every first character a match
    of ``pattern`` can start with; the caller guarantees it, tests/core/test_regex.py checks the rules')."""
    return f"(?=[{first_chars}]){pattern}"


def word_alternation(words) -> str:
    """Literal words (no regex metacharacters) as one alternation, factored by first character, behind a
    look-ahead on those characters: the same matches as ``"|".join(words)``."""
    words = list(words)
    if any(not w or _METACHARACTERS & set(w) for w in words):
        raise ValueError(f"not literal words: {words}")
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in groups.items():
        if len(rests) == 1:
            parts.append(first + rests[0])
        else:
            # An empty rest (the word is one character) stays in its place: "a|ab" must still prefer "a".
            parts.append(first + "(?:" + "|".join(rests) + ")")
    return starting_with(_class_body(groups), "(?:" + "|".join(parts) + ")")
