"""How delivered files go wrong, at the file level (record-level slips are made where the records are made).

Decided per seed and kept small (well under 1% of records): truncated last lines, a stray header row in the
middle of a CSV, empty files, one mediation file saved as UTF-8 instead of GB18030, one order file with an
extra column, folders whose _READY never comes (their content re-delivered the next day under new batch
names), the newest days not yet marked ready, late deliveries (file times days after the folder's date), and
the planned duplicate exports (truth kind duplicate_export).
"""
from __future__ import annotations

import random


class Mess:
    def __init__(self, seed: int, days: int, small: bool, duplicates: list[dict]):
        self.rng = random.Random(seed * 104729 + 3)
        rng = self.rng
        self.days = days
        self.p_trunc = {"hotline": rng.uniform(0.002, 0.006), "orders": rng.uniform(0.002, 0.006),
                        "mediation": rng.uniform(0.001, 0.004)}
        self.p_stray = {"orders": rng.uniform(0.005, 0.015), "mediation": rng.uniform(0.005, 0.015)}
        self.p_empty = rng.uniform(0.002, 0.006)
        self.p_late = rng.uniform(0.01, 0.04)
        # hotline files: the export switched to gzip on some day (or never, or from the start)
        self.gz_from = rng.choice((0, rng.randint(0, days), days + 1))
        self.gz_share = rng.uniform(0.6, 1.0)
        # folders that never get _READY, their content re-delivered the next day (not near the end)
        self.no_ready = set()
        n = 1 if small else rng.randint(2, 5)
        for _ in range(n):
            self.no_ready.add((rng.choice(("hotline", "orders", "mediation")), rng.randint(3, max(4, days - 10))))
        # the newest folders are still being exported
        self.unready_tail = {f: (1 if rng.random() < 0.6 else 0) for f in ("hotline", "orders", "mediation")}
        self.unready_tail[rng.choice(("hotline", "orders", "mediation"))] = 2
        self.utf8_day = None if small or rng.random() < 0.4 else rng.randint(0, days - 1)
        self.extra_col_day = None if small else rng.randint(0, days - 1)
        self.dups = {(d["feed"], d["day"]): d["lag"] for d in duplicates}

    def truncate(self, feed: str) -> bool:
        return self.rng.random() < self.p_trunc[feed]

    def stray_header(self, feed: str) -> bool:
        return self.rng.random() < self.p_stray.get(feed, 0.0)

    def empty_file(self) -> bool:
        return self.rng.random() < self.p_empty

    def gz(self, day: int) -> bool:
        return day >= self.gz_from and self.rng.random() < self.gz_share

    def ready(self, feed: str, day: int) -> bool:
        if (feed, day) in self.no_ready:
            return False
        return day < self.days - self.unready_tail[feed]

    def delivered_late(self) -> int:
        """Days after the usual night-time delivery that the folder arrives (0 for most)."""
        return self.rng.randint(2, 6) if self.rng.random() < self.p_late else 0


def cut_last_line(lines: list[str], rng: random.Random) -> list[str]:
    """The export stopped mid-record: the last line loses its tail (and the file its final newline)."""
    last = lines[-1]
    keep = max(5, int(len(last) * rng.uniform(0.25, 0.85)))
    return lines[:-1] + [last[:keep]]
