"""One place for configuration: every path, engine address and secret comes from here.

Values are read from environment variables (prefix ``FENGQIAO_``) each time ``get_settings()`` is
called, so the CLI, the Airflow tasks and the tests can point the same code at another lake or
engine without editing it. Nothing secret has a default that would work in production.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fengqiao.core.keys import PseudonymKey, resolve_pseudonym_key


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    # Where the upstream drop is read from and where the lake is written.
    home: Path
    source_dir: Path
    lake_dir: Path
    # Registry of trained models (kept outside the lake: a fresh lake still finds a model).
    model_dir: Path
    # Spark: SPARK_MASTER is the standard variable; local[2] fits the 2-core default machine.
    spark_master: str
    spark_driver_memory: str
    spark_shuffle_partitions: int
    # Alerts over SMTP.
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None = field(repr=False)
    smtp_sender: str
    smtp_starttls: bool
    # Scoring.
    alert_budget_share: float  # share of townships flagged per week (e.g. 0.02 = top 2 %)
    horizon_weeks: int
    # Airflow task retries (the scheduler's; `fengqiao run` sets 0 to fail fast).
    task_retries: int = 2
    retry_delay_seconds: int = 120
    # Only drops up to this date (inclusive, YYYY-MM-DD) are read; None = everything ready.
    airflow_home: Path | None = None
    through: str | None = None
    timezone: str = "Asia/Shanghai"
    extra: dict = field(default_factory=dict)
    # HMAC-SHA256 key signing outgoing webhook alerts (FENGQIAO_WEBHOOK_KEY); no default: without it webhook
    # alerts are not sent. Never a bureau's key: bureaus sign their dispositions with their own keys.
    webhook_key: str | None = field(default=None, repr=False)
    # SMTPS (TLS from the first byte, usually port 465) instead of plain SMTP + optional STARTTLS.
    smtp_ssl: bool = False
    # Per-bureau HMAC keys that sign dispositions (fengqiao/delivery/bureau_keys.py); a 0600 file.
    bureau_keys_file: Path | None = None
    # The work-order system's PostgreSQL table, read incrementally by updated_at
    # (jobs/bronze/extract_work_orders_db.py). The DSN holds a password: repr=False keeps it out of logs.
    workorders_dsn: str | None = field(default=None, repr=False)
    workorders_table: str = "work_orders"
    workorders_overlap_seconds: int = 900
    workorders_batch_rows: int = 10_000
    # Spark on a standalone cluster (SPARK_MASTER=spark://...): memory of each executor (must fit a
    # worker's --memory), the cores one application may take (None = all free cores; set it so that two
    # DAGs can run at once), and the address executors reach the driver at (None = SPARK_LOCAL_IP, else
    # Spark's own choice: the machine's first non-loopback address).
    spark_executor_memory: str = "1g"
    spark_cores_max: int | None = None
    spark_driver_host: str | None = None
    # Key of the callers' and parties' pseudonyms (HMAC-SHA256): FENGQIAO_PSEUDONYM_KEY, else the file
    # FENGQIAO_PSEUDONYM_KEY_FILE names. No default: see fengqiao.core.keys for what a run without one does.
    pseudonym_key: str | None = field(default=None, repr=False)
    pseudonym_key_file: Path | None = None

    def resolved_pseudonym_key(self) -> PseudonymKey:
        """The key for this drop (a simulated drop without one gets a per-install key); raises
        :class:`fengqiao.core.keys.PseudonymKeyError` with the reason and the remedy when there is none."""
        return resolve_pseudonym_key(self)


def get_settings() -> Settings:
    # The same home as `make demo` (Makefile: FENGQIAO_HOME ?= $(CURDIR)/var), so that a `fengqiao run` after the
    # demo finds the models the demo registered instead of training again.
    home = Path(_env("FENGQIAO_HOME", "var")).resolve()
    return Settings(
        home=home,
        source_dir=Path(_env("FENGQIAO_SOURCE", str(home / "source"))).resolve(),
        lake_dir=Path(_env("FENGQIAO_LAKE", str(home / "lake"))).resolve(),
        model_dir=Path(_env("FENGQIAO_MODEL_DIR", str(home / "models"))).resolve(),
        spark_master=_env("SPARK_MASTER", "local[2]"),
        spark_driver_memory=_env("FENGQIAO_SPARK_DRIVER_MEMORY", "4g"),
        spark_shuffle_partitions=int(_env("FENGQIAO_SPARK_SHUFFLE_PARTITIONS", "8")),
        smtp_host=_env("FENGQIAO_SMTP_HOST"),
        smtp_port=int(_env("FENGQIAO_SMTP_PORT", "25")),
        smtp_user=_env("FENGQIAO_SMTP_USER"),
        smtp_password=_env("FENGQIAO_SMTP_PASSWORD"),
        smtp_sender=_env("FENGQIAO_SMTP_SENDER", "fengqiao-alerts@localhost"),
        smtp_starttls=_env("FENGQIAO_SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
        alert_budget_share=float(_env("FENGQIAO_ALERT_BUDGET", "0.02")),
        horizon_weeks=int(_env("FENGQIAO_HORIZON_WEEKS", "4")),
        task_retries=int(_env("FENGQIAO_TASK_RETRIES", "2")),
        retry_delay_seconds=int(_env("FENGQIAO_RETRY_DELAY_SECONDS", "120")),
        airflow_home=Path(_env("AIRFLOW_HOME", str(home / "airflow"))).resolve(),
        through=_env("FENGQIAO_THROUGH"),
        webhook_key=_env("FENGQIAO_WEBHOOK_KEY"),
        smtp_ssl=_env("FENGQIAO_SMTP_SSL", "false").lower() in ("1", "true", "yes"),
        bureau_keys_file=Path(_env("FENGQIAO_BUREAU_KEYS", str(home / "secrets" / "bureau_keys.csv"))).resolve(),
        workorders_dsn=_env("FENGQIAO_WORKORDERS_DSN"),
        workorders_table=_env("FENGQIAO_WORKORDERS_TABLE", "work_orders"),
        workorders_overlap_seconds=int(_env("FENGQIAO_WORKORDERS_OVERLAP_SECONDS", "900")),
        workorders_batch_rows=int(_env("FENGQIAO_WORKORDERS_BATCH_ROWS", "10000")),
        spark_executor_memory=_env("FENGQIAO_SPARK_EXECUTOR_MEMORY", "1g"),
        spark_cores_max=int(_env("FENGQIAO_SPARK_CORES_MAX")) if _env("FENGQIAO_SPARK_CORES_MAX") else None,
        spark_driver_host=_env("FENGQIAO_SPARK_DRIVER_HOST", _env("SPARK_LOCAL_IP")),
        pseudonym_key=_env("FENGQIAO_PSEUDONYM_KEY"),
        pseudonym_key_file=Path(_env("FENGQIAO_PSEUDONYM_KEY_FILE")).resolve() if _env("FENGQIAO_PSEUDONYM_KEY_FILE")
        else None,
    )
