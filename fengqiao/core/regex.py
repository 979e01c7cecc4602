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

import re

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


# --- character classes as Java evaluates them fast -------------------------------------------------
#
# Java compiles a class of single characters outside Latin-1 ("[王李张…]") into a chain of predicates, one per
# character, and tests a character against every link: a class of the 149 common surnames cost 21.9 s on 150,000
# transcripts when tried at every position, the 36 first characters of the kin words 3.9 s. The same set as a
# binary tree of ranges intersected with halves of it ("[[a-m&&[…]][n-z&&[…]]]": Java tests the range first and
# skips the half behind it) took 1.7 s and 1.4 s. Same members, so the same matches; the form is Java's alone
# (Python's re and DuckDB's RE2 read "&&" as characters), so the rules keep the plain form and Spark gets this.

_TREE_LEAF = 4  # ranges in a class that Java tests one by one; more become a tree


def _class_intervals(body: str) -> list[tuple[int, int]] | None:
    """Members of a plain class body (literal characters, ranges, escaped metacharacters) as sorted disjoint
    intervals of code points; None for anything else (negation, shorthands such as \\s, nested classes)."""
    if body.startswith("^") or "&&" in body or "[" in body:
        return None
    escapes = re.findall(r"\\(.?)", body)
    if any(not e or e not in _METACHARACTERS for e in escapes):
        return None  # \s, \d, \p{…}, \x…: left as written
    tokens = _class_tokens(body)
    if tokens is None:
        return None
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(tokens):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _class_tokens(body: str) -> list[tuple[int, int]] | None:
    """A class body as (low, high) code-point pairs in the order written."""
    atoms: list[tuple[str, int]] = []  # ("c", code) for a character, ("-", 0) for an unescaped dash
    i = 0
    while i < len(body):
        if body[i] == "\\":
            atoms.append(("c", ord(body[i + 1])))
            i += 2
        else:
            atoms.append(("-", 0) if body[i] == "-" else ("c", ord(body[i])))
            i += 1
    out: list[tuple[int, int]] = []
    j = 0
    while j < len(atoms):
        kind, code = atoms[j]
        if kind == "-":  # a dash first or last (or after a range) is the character itself
            out.append((ord("-"), ord("-")))
            j += 1
        elif j + 2 < len(atoms) and atoms[j + 1][0] == "-" and atoms[j + 2][0] == "c":
            if atoms[j + 2][1] < code:
                return None
            out.append((code, atoms[j + 2][1]))
            j += 3
        else:
            out.append((code, code))
            j += 1
    return out


def _java_char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _interval(lo: int, hi: int) -> str:
    return _java_char(lo) if lo == hi else f"{_java_char(lo)}-{_java_char(hi)}"


def _tree(intervals: list[tuple[int, int]]) -> str:
    """Class members (without the outer brackets) as a binary tree of range-guarded halves."""
    if len(intervals) <= _TREE_LEAF:
        return "".join(_interval(lo, hi) for lo, hi in intervals)
    half = len(intervals) // 2
    left, right = intervals[:half], intervals[half:]
    return (f"[{_interval(left[0][0], left[-1][1])}&&[{_tree(left)}]]"
            f"[{_interval(right[0][0], right[-1][1])}&&[{_tree(right)}]]")


def for_java(pattern: str) -> str:
    """``pattern`` with every plain character class of more than four ranges or characters beyond Latin-1
    rewritten as a tree Java tests in a few steps: the same matches in Java's engine (and only there), far faster on CJK text."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c != "[":
            out.append(c)
            i += 1
            continue
        end = _class_end(pattern, i)
        body = pattern[i + 1:end]
        intervals = _class_intervals(body)
        # Latin-1 members are one bit-set test in Java whatever their number: only wide classes are rewritten.
        if intervals is None or sum(hi > 0xFF for _, hi in intervals) <= _TREE_LEAF:
            out.append(pattern[i:end + 1])
        else:
            out.append(f"[{_tree(intervals)}]")
        i = end + 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """Index of the "]" that closes the class opened at ``start`` (nested classes counted)."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed character class in {pattern!r}")
