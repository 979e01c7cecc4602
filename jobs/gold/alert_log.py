"""``gold/alerts``: one row per delivery attempt and channel (schema ``fengqiao.core.schemas.ALERTS``).

Appended by the alert stage (``jobs/outputs/alerts.py``); read back for idempotence, the cool-down and
the references (:mod:`fengqiao.delivery.alert_history`), and by the dispositions intake
(``jobs/gold/alert_dispositions.py``) to know which alerts a bureau may answer. It lives with the gold
jobs because both stages read it and the outputs stage comes after gold.
"""
from __future__ import annotations

import pandas as pd

from fengqiao.delivery.alert_channels import ALERT_COLUMNS
from fengqiao.lake import Lake, read_table, write_table
from fengqiao.render.common import as_date

TABLE = "alerts"


def read_alert_log(lake: Lake) -> pd.DataFrame:
    """The rows of gold/alerts (none yet: an empty frame with the columns); ``ack_ref`` is null in rows
    written before alerts carried a reference."""
    path = lake.gold(TABLE)
    if not path.exists():
        return pd.DataFrame(columns=ALERT_COLUMNS)
    existing = read_table(path)
    if "ack_ref" not in existing.columns:  # written before alerts carried a reference
        existing["ack_ref"] = None
    return existing


def append_attempts(lake: Lake, existing: pd.DataFrame, attempts: pd.DataFrame) -> None:
    """Publish gold/alerts as ``existing`` (as read at the start of the run) plus this run's ``attempts``."""
    frames = [f for f in (existing[ALERT_COLUMNS] if not existing.empty else None, attempts) if f is not None]
    # A column that is all null in one frame (ack_ref of rows written before it existed, sent_at of failed attempts)
    # is left out before the concat: pandas is changing whether such columns decide the result's dtype. Every
    # column is typed explicitly below, and the reindex brings back a column that was null everywhere.
    combined = pd.concat([f.dropna(axis=1, how="all") for f in frames], ignore_index=True).reindex(
        columns=ALERT_COLUMNS)
    # Microsecond UTC timestamps and typed strings (even when a column is all null): Spark cannot
    # read Parquet nanosecond timestamps, and an all-null object column would be stored as NULL type.
    combined["sent_at"] = pd.to_datetime(combined["sent_at"], utc=True).astype("datetime64[us, UTC]")
    for col in ("alert_id", "region_code", "risk_level", "recipient_unit", "channel", "status",
                "recipient_address", "detail", "ack_ref"):
        combined[col] = combined[col].astype(object).where(combined[col].notna(), None).astype("string")
    combined["week_start"] = combined["week_start"].map(as_date)
    write_table(combined, lake, "gold", TABLE)
