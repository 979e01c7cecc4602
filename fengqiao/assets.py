"""Airflow Assets: the published tables that connect the DAGs (ingest → features → scores → outputs)."""
from __future__ import annotations

from airflow.sdk import Asset

from fengqiao.lake import SILVER_TABLES


def _asset(layer: str, table: str) -> Asset:
    return Asset(name=f"fengqiao.{layer}.{table}", uri=f"fengqiao://lake/{layer}/{table}")


SILVER = {feed: _asset("silver", table) for feed, table in SILVER_TABLES.items()}
REGION_WEEK_FEATURES = _asset("gold", "region_week_features")
RISK_SCORES = _asset("gold", "risk_scores")
BRIEFING = _asset("outputs", "briefing")
ALERTS = _asset("gold", "alerts")
