"""Writes the drop layout of the source contract, byte-for-byte reproducibly.

Record versions are buffered per feed, export day and batch (a county, or a city at province scale)
and written when no later record can still land in that day. gzip members carry mtime 0 and .xlsx
archives fixed timestamps, so the same arguments always give the same bytes.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
import zipfile
from collections import defaultdict
from pathlib import Path

from .mediation import MEDIATION_HEADER
from .orders import ORDER_HEADER

FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)
PREFIX = {"hotline": "calls", "workorders": "orders", "mediation": "cases"}
FEEDS = tuple(PREFIX)


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def xlsx_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """An .xlsx with fixed document properties and zip timestamps (openpyxl stamps 'now' otherwise)."""
    # openpyxl takes ~0.7 s to import and only the few .xlsx files need it
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("调解案件")
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = "people-mediation-registry"
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


class DropWriter:
    def __init__(self, root: Path, start: dt.date, n_days: int, seed: int, dirt, duplicates: list[dict],
                 county_codes: list[str], batch_digits: int, xlsx_share: float, gz_share: float):
        self.root, self.start, self.n_days, self.seed, self.dirt = root, start, n_days, seed, dirt
        self.buf = {f: defaultdict(lambda: defaultdict(list)) for f in FEEDS}
        self.flushed = -1
        self.xlsx_share, self.gz_share, self.batch_digits = xlsx_share, gz_share, batch_digits
        self.copies: dict[tuple[int, str], list[tuple[str, bytes]]] = defaultdict(list)
        # duplicated exports: (day, batch key) -> (feed, delay); the two busy feeds take turns
        self.dups = {(d["day"], county_codes[d["county"]][:batch_digits]): (FEEDS[i % 2], d["delay"])
                     for i, d in enumerate(duplicates)}
        self.files = {f: 0 for f in FEEDS}
        self.bytes = 0

    def add(self, feed: str, day: int, key: str, row) -> None:
        if day < self.n_days:  # later exports have not happened yet when the drop ends
            self.buf[feed][day][key].append(row)

    def flush(self, upto: int) -> None:
        """Write every day folder up to and including day index ``upto``."""
        for day in range(self.flushed + 1, min(upto, self.n_days - 1) + 1):
            for feed in FEEDS:
                self.write_day(feed, day)
            self.flushed = day

    def _put(self, path: Path, data: bytes, feed: str) -> None:
        path.write_bytes(data)
        self.files[feed] += 1
        self.bytes += len(data)

    def write_day(self, feed: str, day: int) -> None:
        date = self.start + dt.timedelta(days=day)
        folder = self.root / feed / date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        batches = self.buf[feed].pop(day, {})
        stamp = date.strftime("%Y%m%d")
        for name, data in self.copies.pop((day, feed), []):  # a batch delivered again, days later
            self._put(folder / name, data, feed)
        for key in sorted(batches):
            name, data = self.encode(feed, day, key, batches[key], f"{PREFIX[feed]}-{key}-{stamp}-01")
            self._put(folder / name, data, feed)
            dup = self.dups.get((day, key))
            if dup and dup[0] == feed:
                again = name.replace("-01.", "-02.")
                if dup[1] == 0:
                    self._put(folder / again, data, feed)
                elif day + dup[1] < self.n_days:
                    self.copies[(day + dup[1], feed)].append((again, data))
            if self.dirt.want("empty_file", day, feed):
                empty = f"{PREFIX[feed]}-{key}-{stamp}-09." + ("jsonl" if feed == "hotline" else "csv")
                self._put(folder / empty, b"", feed)
                self.dirt.note("empty_file", feed, f"{feed}/{date.isoformat()}/{empty}")
        if day < self.n_days - 1:  # the newest folder is still being written
            (folder / "_READY").write_bytes(b"")

    def encode(self, feed: str, day: int, key: str, rows: list, stem: str) -> tuple[str, bytes]:
        r = random.Random(f"{self.seed}-{stem}")
        where = f"{feed}/{(self.start + dt.timedelta(days=day)).isoformat()}/"
        if feed == "hotline":
            text = "\n".join(rows) + "\n"
            if r.random() < self.gz_share:
                # level 1: ~4x faster than the default 6 for ~15% more bytes; province drops gzip most files
                return stem + ".jsonl.gz", gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0)
            if len(rows) > 1 and self.dirt.want("truncated_line", day, feed):
                cut = len(text) - len(rows[-1]) // 2 - 1
                text = text[:cut]
                self.dirt.note("truncated_line", feed, where + stem + ".jsonl")
            return stem + ".jsonl", text.encode("utf-8")
        header = ORDER_HEADER if feed == "workorders" else MEDIATION_HEADER
        encoding = "utf-8" if feed == "workorders" else "gb18030"
        if feed == "mediation" and r.random() < self.xlsx_share:
            return stem + ".xlsx", xlsx_bytes(header, rows)
        name = stem + ".csv"
        if len(rows) > 2 and self.dirt.want("stray_header", day, feed):
            mid = len(rows) // 2
            rows = rows[:mid] + [header] + rows[mid:]
            self.dirt.note("stray_header", feed, where + name)
        elif self.dirt.want("extra_column", day, feed):
            header = header + (["remark"] if feed == "workorders" else ["备注"])
            rows = [row + [r.choice(("", "", "已核实", "补录"))] for row in rows]
            self.dirt.note("extra_column", feed, where + name)
        elif self.dirt.want("missing_column", day, feed):
            drop = len(header) - 2  # satisfaction / 当事人电话: the column before the timestamp
            header = header[:drop] + header[drop + 1:]
            rows = [row[:drop] + row[drop + 1:] for row in rows]
            self.dirt.note("missing_column", feed, where + name, f"dropped column {drop}")
        elif self.dirt.want("wrong_encoding", day, feed):
            encoding = "gb18030" if encoding == "utf-8" else "utf-8"
            self.dirt.note("wrong_encoding", feed, where + name, encoding)
        return name, csv_text(header, rows).encode(encoding)
