"""Planted defects and planted personal data, both logged to ``truth/`` for the tests downstream.

Defects are rare (a few per thousand records or files) but each kind is forced at least once early
in the drop, so that even an 8-week small drop exercises every quarantine path of the pipeline.
"""
from __future__ import annotations

import random
from contextlib import contextmanager

from . import text as tx

RECORD_KINDS = ("invalid_region_code", "unknown_region_code", "unparseable_date")
FILE_KINDS = ("truncated_line", "stray_header", "empty_file", "extra_column", "missing_column", "wrong_encoding")
RATES = {"invalid_region_code": 0.0012, "unknown_region_code": 0.0012, "unparseable_date": 0.0012,
         "truncated_line": 0.004, "stray_header": 0.004, "empty_file": 0.002, "extra_column": 0.002,
         "missing_column": 0.0015, "wrong_encoding": 0.0015}


class Dirt:
    def __init__(self, seed: int):
        self.r = random.Random(f"dirt-{seed}")
        self.log: list[dict] = []
        self.done: set[str] = set()
        kinds = RECORD_KINDS + FILE_KINDS
        self.due = {k: 3 + 2 * i for i, k in enumerate(kinds)}  # forced by this day index at the latest

    def want(self, kind: str, day: int, feed: str) -> bool:
        """Plant this defect here? Rarely at random; surely once per feed once its due day has come."""
        key = f"{kind}:{feed}"
        if self.r.random() < RATES[kind] or (key not in self.done and day >= self.due[kind]):
            self.done.add(key)
            return True
        return False

    @contextmanager
    def own_stream(self, name: str):
        """Meanwhile draw from a stream of its own: records added on top of the world (referral cases)
        get their defects without moving those of the records drawn after them."""
        saved, self.r = self.r, random.Random(f"dirt-{name}")
        try:
            yield self
        finally:
            self.r = saved

    def note(self, kind: str, feed: str, where: str, detail: str = "") -> None:
        self.log.append(dict(kind=kind, feed=feed, where=where, detail=detail))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.log:
            out[row["kind"]] = out.get(row["kind"], 0) + 1
        return out


class PersonalData:
    """A capped sample of planted personal values (first ones seen, deterministic)."""

    CAP = 1000  # per kind; five kinds -> at most 5,000 rows

    def __init__(self):
        self.values: dict[str, dict[str, None]] = {}

    def add(self, kind: str, value: str | None) -> None:
        if value:
            bucket = self.values.setdefault(kind, {})
            if len(bucket) < self.CAP:
                bucket[value] = None

    def rows(self) -> list[tuple[str, str]]:
        return [(k, v) for k in sorted(self.values) for v in self.values[k]]


class MaskingForms:
    """Personal data in forms that defeat plain masking (``text.masking_form``), planted in a few percent
    of call transcripts and order summaries, and logged for ``truth/masking_forms.csv``.

    Drawn from a stream of its own (seeded by the drop's seed) so that planting changes those texts and
    nothing else of the drop. A third of the calls that carry one are exported as ASCII-only JSON (every
    Chinese character ``\\uXXXX``-escaped), as some exporters write it.
    """

    RATES = {"hotline": 0.03, "workorders": 0.02}
    ESCAPED_SHARE = 0.3
    CAP = 500  # logged values per form; later ones are planted all the same

    def __init__(self, seed: int):
        self.r = random.Random(f"masking-forms-{seed}")
        self.logged: dict[str, int] = {}
        self.log: list[tuple[str, str, str, str]] = []

    def sentence(self, feed: str, county6: str, city4: str) -> str | None:
        """A sentence to add to this record's text, or None (most records)."""
        if self.r.random() >= self.RATES[feed]:
            return None
        form, sentence, value, digits = tx.masking_form(self.r, county6, city4)
        if self.logged.get(form, 0) < self.CAP:
            self.logged[form] = self.logged.get(form, 0) + 1
            self.log.append((feed, form, value, digits))
        return sentence

    def escaped(self) -> bool:
        return self.r.random() < self.ESCAPED_SHARE
