"""What every DAG shares: the Assets that connect the stages, and task defaults.

Assets: ingest → silver tables → features → risk scores → briefing and alerts.
Retries come from the settings: a deployment's scheduler retries a failed task after a delay
(``FENGQIAO_TASK_RETRIES``, ``FENGQIAO_RETRY_DELAY_SECONDS``); ``fengqiao run`` sets no retries so
that a one-shot run fails at once with the reason instead of waiting out retry delays.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset

from fengqiao.lake import SILVER_TABLES
from fengqiao.settings import get_settings

START_DATE = pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai")


def _asset(layer: str, table: str) -> Asset:
    return Asset(name=f"fengqiao.{layer}.{table}", uri=f"fengqiao://lake/{layer}/{table}")


SILVER = {feed: _asset("silver", table) for feed, table in SILVER_TABLES.items()}
REGION_WEEK_FEATURES = _asset("gold", "region_week_features")
RISK_SCORES = _asset("gold", "risk_scores")
HOTSPOT_PATTERNS = _asset("gold", "hotspot_patterns")
BRIEFING = _asset("outputs", "briefing")
ALERTS = _asset("gold", "alerts")


def default_args(extra_retries: int = 0) -> dict:
    """Task defaults; ``extra_retries`` for tasks that talk to outside services (mail)."""
    settings = get_settings()
    retries = settings.task_retries + (extra_retries if settings.task_retries else 0)
    return {
        "owner": "fengqiao",
        "retries": retries,
        "retry_delay": pendulum.duration(seconds=settings.retry_delay_seconds),
        "retry_exponential_backoff": True,
    }
