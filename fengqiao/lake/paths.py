"""Where everything lives in the lake: the :class:`Lake` paths, the feeds and their silver tables."""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

FEEDS = ("hotline", "workorders", "mediation")
SILVER_TABLES = {"hotline": "hotline_calls", "workorders": "work_orders", "mediation": "mediation_cases"}
# The record key of each silver table: one row per key (the newest version), the key its merge matches on.
SILVER_KEYS = {"hotline_calls": "call_id", "work_orders": "order_id", "mediation_cases": "case_id"}

# This machine as named in staging folders (``<name>~<host>~<pid>~<id>``): no "~" or "/" in it.
STAGING_HOST = socket.gethostname().split(".")[0].replace("~", "-").replace("/", "-") or "host"


@dataclass(frozen=True)
class Lake:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> "Lake":
        return cls(Path(root).resolve())

    # --- layers -------------------------------------------------------------------------------
    def bronze(self, feed: str) -> Path:
        return self.root / "bronze" / feed

    @property
    def bronze_manifest(self) -> Path:
        return self.root / "bronze" / "_manifest.parquet"

    @property
    def reference(self) -> Path:
        """Latest copy of the drop's reference/ folder (regions.csv, bureaus.csv)."""
        return self.root / "reference"

    def silver(self, table: str) -> Path:
        return self.root / "silver" / table

    @property
    def quarantine(self) -> Path:
        return self.root / "silver" / "quarantine"

    def quarantine_partition(self, feed: str) -> Path:
        """The feed's partition of the quarantine, published by its silver job."""
        return self.quarantine / f"feed={feed}"

    def gold(self, table: str) -> Path:
        return self.root / "gold" / table

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def briefings(self) -> Path:
        return self.outputs / "briefings"

    @property
    def mailbox(self) -> Path:
        return self.outputs / "mail"

    @property
    def staging(self) -> Path:
        return self.root / "_staging"

    @property
    def run_log(self) -> Path:
        return self.root / "_runs"

    @property
    def quality(self) -> Path:
        """The silver audit's own files: its validated state and its Data Docs."""
        return self.root / "_quality"

    # --- write-audit-publish ------------------------------------------------------------------
    def new_staging_path(self, name: str) -> Path:
        """A fresh path under ``_staging`` (not created) named after its owner process.

        ``<name>~<host>~<pid>~<id>``: :func:`fengqiao.lake.publish.clean_stale_staging` removes it once
        that process is gone.
        """
        path = self.staging / f"{name}~{STAGING_HOST}~{os.getpid()}~{uuid.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
