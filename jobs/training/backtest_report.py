"""The backtest report's file: where it goes, the fingerprint of the data it describes, the atomic write.

The report's text is :func:`models.backtest_report.render_report`; ``fengqiao backtest`` writes it to
``<lake>/reports/backtest/backtest.html`` (``REPORT_NAME``: a stable name, so a re-run replaces it) or
``--report PATH``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fengqiao.lake import Lake
from jobs.training.backtest import PUBLISHED_DETECTORS
from models.backtest import CURVE_BUDGETS, BacktestRun
from models.backtest_report import render_report

REPORT_NAME = "backtest.html"
# Tables read by the backtest, for the fingerprint.
FINGERPRINT_TABLES = ("region_week_features",) + tuple(table for _, table in PUBLISHED_DETECTORS)


def default_report_path(lake: Lake) -> Path:
    return lake.root / "reports" / "backtest" / REPORT_NAME


def data_fingerprint(lake: Lake, truth_dir: Path) -> str:
    """16 hex digits of a sha256 over the *content* of the gold tables the backtest reads and episodes.csv.

    File names are left out (Spark names files with a random id): the same rows written again give the
    same fingerprint; any changed byte changes it. Hidden and ``_`` files (locks, markers) are skipped."""
    digest = hashlib.sha256()
    for table in FINGERPRINT_TABLES:
        root = lake.gold(table)
        entries = []
        if root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                for name in files:
                    if name.startswith((".", "_")):
                        continue
                    path = Path(folder) / name
                    rel_dir = path.parent.relative_to(root).as_posix()
                    entries.append(f"{rel_dir}\0{hashlib.sha256(path.read_bytes()).hexdigest()}")
        digest.update(f"{table}\n".encode())
        for e in sorted(entries):
            digest.update(e.encode() + b"\n")
    episodes = Path(truth_dir) / "episodes.csv"
    digest.update(b"episodes\n" + (hashlib.sha256(episodes.read_bytes()).hexdigest().encode()
                                   if episodes.is_file() else b"missing"))
    return digest.hexdigest()[:16]


def write_report(run: BacktestRun, path: Path, fingerprint: str, budgets=CURVE_BUDGETS) -> Path:
    """Write :func:`render_report` to ``path`` (atomically: a reader never sees half a report)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(render_report(run, fingerprint, budgets), encoding="utf-8")
    os.replace(tmp, path)
    return path
