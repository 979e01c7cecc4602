"""Writing the drop: day folders of batches per feed, in the contract's formats, with the planned mess.

Records are handed in with the day they are exported (the folder's date) and kept until that folder can be
written; a folder is written once generation has passed its date, since exports never hold records of later
days. Bytes are deterministic: gzip without a timestamp, xlsx repacked with fixed zip times and properties,
and file times set from the planned delivery time.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
from xml.sax.saxutils import escape as xml_escape
import zipfile
from pathlib import Path

from . import mess as mess_mod
from .mediation import HEADER as MED_HEADER
from .orders import HEADER as ORDER_HEADER

FEEDS = ("hotline", "orders", "mediation")
DIRS = {"hotline": "hotline", "orders": "workorders", "mediation": "mediation"}


class Writer:
    def __init__(self, out: Path, start: dt.date, days: int, mess: mess_mod.Mess, xlsx_counties: set[str]):
        self.out, self.start, self.days, self.mess = out, start, days, mess
        self.rng = mess.rng
        self.xlsx_counties = xlsx_counties
        self.pending: dict[str, dict[int, list]] = {f: {} for f in FEEDS}
        self.extra: dict[tuple[str, int], list[tuple[str, bytes]]] = {}
        self.done = {f: -1 for f in FEEDS}
        self.damages: list[list[str]] = []
        self.files = {f: 0 for f in FEEDS}
        self.lines = {f: 0 for f in FEEDS}
        self.unexported = 0
        self.seq = {f: 0 for f in FEEDS}

    def add(self, feed: str, day: int, key: str, payload) -> None:
        if day >= self.days:
            self.unexported += 1  # exported after the drop's last day: not delivered yet
            return
        self.pending[feed].setdefault(max(day, self.done[feed] + 1), []).append((key, payload))

    def damage(self, feed: str, where: str, what: str) -> None:
        self.damages.append([feed, where, what])

    def flush_until(self, last_day: int) -> None:
        for feed in FEEDS:
            for day in range(self.done[feed] + 1, min(last_day, self.days - 1) + 1):
                self._folder(feed, day, self.pending[feed].pop(day, []))
                self.done[feed] = day

    # --- one folder ------------------------------------------------------------------------------------
    def _folder(self, feed: str, day: int, items: list) -> None:
        files = self.extra.pop((feed, day), [])
        if items:
            items.sort(key=lambda kv: kv[0])
            files = self._batches(feed, day, items) + files
        if not files:
            return
        m, date = self.mess, self.start + dt.timedelta(days=day)
        if m.empty_file():
            files.append((self._name(feed, day, empty=True), b""))
        lag = m.dups.get((feed, day))
        if lag is not None and items:
            name, data = files[0]
            copy = (self._name(feed, day, like=name), data)
            if lag == 0 or day + lag >= self.days:
                files.append(copy)
            else:
                self.extra.setdefault((feed, day + lag), []).append(copy)
        ready = m.ready(feed, day)
        if not ready and (feed, day) in m.no_ready and day + 1 < self.days:
            self.extra.setdefault((feed, day + 1), []).extend((self._name(feed, day + 1, like=n), b) for n, b in files if b)
        folder = self.out / DIRS[feed] / date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        late = m.delivered_late()
        t = dt.datetime(date.year, date.month, date.day) + dt.timedelta(days=1 + late, hours=2,
                                                                        minutes=self.rng.randint(0, 180))
        stamp = (t - dt.timedelta(hours=8) - dt.datetime(1970, 1, 1)).total_seconds()
        for name, data in files:
            (folder / name).write_bytes(data)
            os.utime(folder / name, (stamp, stamp))
            self.files[feed] += 1
        if ready:
            (folder / "_READY").write_bytes(b"")
            os.utime(folder / "_READY", (stamp + 60, stamp + 60))
        os.utime(folder, (stamp + 60, stamp + 60))

    def _name(self, feed: str, day: int, like: str | None = None, empty: bool = False) -> str:
        self.seq[feed] += 1
        date = self.start + dt.timedelta(days=day)
        ext = {"hotline": ".jsonl", "orders": ".csv", "mediation": ".csv"}[feed]
        if like is not None:
            ext = like[like.index("."):]
        stem = {"hotline": "calls", "orders": "orders", "mediation": "cases"}[feed]
        tag = "r" if like is not None else ("x" if empty else "")
        if feed == "hotline":
            return f"{stem}-{date:%Y%m%d}-{tag}{self.seq[feed] % 100:02d}{ext}"
        if feed == "orders":
            return f"{stem}-{tag}{self.seq[feed]:06d}{ext}"
        return f"{stem}-{date:%Y%m%d}{tag}{self.seq[feed]:05d}{ext}"

    def _batches(self, feed: str, day: int, items: list) -> list[tuple[str, bytes]]:
        if feed == "mediation":
            csv_rows = [row for _, (county, row) in items if county not in self.xlsx_counties]
            out = []
            if csv_rows:
                out.append(self._csv(feed, day, MED_HEADER, csv_rows, "gb18030", "\r\n"))
            by_county: dict[str, list] = {}
            for _, (county, row) in items:
                if county in self.xlsx_counties:
                    by_county.setdefault(county, []).append(row)
            for county in sorted(by_county):
                name = f"cases-{county[:6]}-{(self.start + dt.timedelta(days=day)):%Y%m%d}.xlsx"
                out.append((name, xlsx_bytes(MED_HEADER, by_county[county])))
                self.lines[feed] += len(by_county[county])
            return out
        payloads = [p for _, p in items]
        n = 1 if len(payloads) < 500 else self.rng.randint(2, 3)
        size = -(-len(payloads) // n)
        chunks = [payloads[i:i + size] for i in range(0, len(payloads), size)]
        if feed == "orders":
            return [self._csv(feed, day, ORDER_HEADER, c, "utf-8", "\n") for c in chunks]
        out = []
        for c in chunks:
            lines = list(c)
            name = self._name(feed, day)
            if self.mess.truncate(feed):
                lines = mess_mod.cut_last_line(lines, self.rng)
                self.damage(feed, name, "last line truncated")
                data = "\n".join(lines).encode("utf-8")
            else:
                data = ("\n".join(lines) + "\n").encode("utf-8")
            if self.mess.gz(day):
                name += ".gz"
                data = gzip.compress(data, mtime=0)
            self.lines[feed] += len(lines)
            out.append((name, data))
        return out

    def _csv(self, feed: str, day: int, header: list[str], rows: list[list], enc: str, eol: str) -> tuple[str, bytes]:
        header = list(header)
        if feed == "orders" and day == self.mess.extra_col_day:
            header = header + ["remark"]  # one export with a column the contract does not list
            rows = [r + [""] for r in rows]
            self.damage(feed, f"orders on day {day}", "extra column remark (records are fine)")
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator=eol)
        wr.writerow(header)
        body = io.StringIO()
        csv.writer(body, lineterminator=eol).writerows(rows)
        lines = body.getvalue().split(eol)[:-1] if rows else []
        name = self._name(feed, day)
        if lines and len(lines) > 4 and self.mess.stray_header(feed):
            at = self.rng.randint(1, len(lines) - 1)
            lines.insert(at, eol.join(buf.getvalue().split(eol)[:-1]))
            self.damage(feed, name, f"stray header row before data row {at + 1}")
        text = buf.getvalue() + eol.join(lines) + (eol if lines else "")
        if lines and self.mess.truncate(feed):
            lines = mess_mod.cut_last_line(lines, self.rng)
            text = buf.getvalue() + eol.join(lines)
            self.damage(feed, name, "last line truncated")
        if feed == "mediation" and day == self.mess.utf8_day:
            enc = "utf-8"
            self.damage(feed, name, f"file saved as UTF-8 instead of GB18030 ({len(rows)} records)")
        self.lines[feed] += len(rows)
        return name, text.encode(enc)


def xlsx_bytes(header: list[str], rows: list[list]) -> bytes:
    """A minimal .xlsx (one sheet, inline strings), as simple exporters write them; fixed zip times, so the bytes
    depend only on the rows. openpyxl writes the same thing about fifty times slower."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in _XLSX_PARTS:
            _put(z, name, text)
        body = [_row(1, header)] + [_row(i + 2, [_cell(h, v) for h, v in zip(header, r)]) for i, r in enumerate(rows)]
        _put(z, "xl/worksheets/sheet1.xml",
             '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData>' + "".join(body) + "</sheetData></worksheet>")
    return out.getvalue()


def _put(z: zipfile.ZipFile, name: str, text: str) -> None:
    zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(zi, text.encode("utf-8"))


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _row(n: int, values: list) -> str:
    cells = []
    for i, v in enumerate(values):
        if v is None:
            continue
        ref = f"{_col(i)}{n}"
        if isinstance(v, (int, float)):
            cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{xml_escape(str(v))}</t></is></c>')
    return f'<row r="{n}">' + "".join(cells) + "</row>"


_NS = "http://schemas.openxmlformats.org"
_XLSX_PARTS = (
    ("[Content_Types].xml",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="' + _NS + '/package/2006/content-types">'
     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
     '<Default Extension="xml" ContentType="application/xml"/>'
     '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
     '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
     '</Types>'),
    ("_rels/.rels",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="' + _NS + '/package/2006/relationships">'
     '<Relationship Id="rId1" Type="' + _NS + '/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
     '</Relationships>'),
    ("xl/workbook.xml",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="' + _NS + '/spreadsheetml/2006/main" '
     'xmlns:r="' + _NS + '/officeDocument/2006/relationships"><sheets><sheet name="案件" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    ("xl/_rels/workbook.xml.rels",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="' + _NS + '/package/2006/relationships">'
     '<Relationship Id="rId1" Type="' + _NS + '/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
     '</Relationships>'),
)


def _cell(h: str, v):
    # the registry's spreadsheet stores counts and plain amounts as numbers, everything else as text
    if h == "当事人数" and isinstance(v, int):
        return v
    if h == "涉案金额" and isinstance(v, str) and v.isdigit():
        return int(v)
    return v if v != "" else None
