"""One place for configuration: every path, engine address and secret comes from here.

:class:`Settings` is one immutable object. A process builds it once where it starts (a CLI command, the
stage function an Airflow task calls, ``jobs/submit.py`` under spark-submit) with :meth:`Settings.from_env`
and passes it down to the jobs; settings for another drop or lake are a copy (``dataclasses.replace``),
never a changed environment. Values come from environment variables (prefix ``FENGQIAO_``, plus
``SPARK_MASTER`` and ``AIRFLOW_HOME``), so that the CLI, the Airflow tasks and the tests can point the
same code at another lake or engine without editing it. :meth:`Settings.to_env` gives the variables that
rebuild the same settings, for the processes that can only read them from their environment (Airflow
tasks; see ``fengqiao.app.airflow_runner``). Nothing secret has a default that would work in production.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from fengqiao.core.keys import PseudonymKey, resolve_pseudonym_key
from fengqiao.core.weeks import TZ_NAME


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
    airflow_home: Path | None = None
    # Only drops up to this date (inclusive, YYYY-MM-DD) are read; None = everything ready.
    through: str | None = None
    timezone: str = TZ_NAME
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
    # A long-running Spark Connect server (SPARK_REMOTE=sc://host:15002, PySpark's own variable): the stages are
    # its clients instead of starting a JVM each; the server's JVM, already warm, runs them (docs/operations.md).
    spark_remote: str | None = None
    # The token a Spark Connect server on loopback demands of its clients (made by `fengqiao spark-connect-server`
    # on its first start, mode 0600; the clients of a loopback server read it): without one, any user of the
    # machine could run code as the server, which reads bronze and the pseudonym key.
    spark_connect_token_file: Path | None = None
    # Key of the callers' and parties' pseudonyms (HMAC-SHA256): FENGQIAO_PSEUDONYM_KEY, else the file
    # FENGQIAO_PSEUDONYM_KEY_FILE names. No default: see fengqiao.core.keys for what a run without one does.
    pseudonym_key: str | None = field(default=None, repr=False)
    pseudonym_key_file: Path | None = None
    # Alert delivery (fengqiao.delivery.webhooks.DeliveryOptions): weeks a flagged region is not alerted
    # again (0: no cool-down), attempts per delivery in one run, the first back-off delay (doubling after
    # each failure), the webhook timeout, and the folder bureaus drop signed dispositions files into
    # (None: <lake>/inbox/dispositions).
    alert_cooldown_weeks: int = 4
    alert_retry_attempts: int = 3
    alert_retry_delay_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    dispositions_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (``os.environ`` unless given) describes; unset or empty = default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (variable, parse, default) in VARIABLES.items():
            text = environ.get(variable) or None
            if text is None and callable(default):
                text = str(default(values["home"]))  # defaults under the home folder: home is the table's first
            elif text is None:
                text = default
            values[name] = None if text is None else parse(text)
        if values["spark_driver_host"] is None:
            values["spark_driver_host"] = environ.get("SPARK_LOCAL_IP") or None
        return cls(**values)

    def to_env(self) -> dict[str, str | None]:
        """The environment variables that :meth:`from_env` reads back into these settings (None: unset it)."""
        return {variable: _text(getattr(self, name)) for name, (variable, _, _) in VARIABLES.items()}

    def resolved_pseudonym_key(self) -> PseudonymKey:
        """The key for this drop (a simulated drop without one gets a per-install key); raises
        :class:`fengqiao.core.keys.PseudonymKeyError` with the reason and the remedy when there is none."""
        return resolve_pseudonym_key(self.source_dir, self.home, self.pseudonym_key, self.pseudonym_key_file)


def _path(text: str) -> Path:
    return Path(text).resolve()


def _flag(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


# The loopback Spark Connect server's token file under the home (FENGQIAO_SPARK_CONNECT_TOKEN_FILE overrides it).
CONNECT_TOKEN_FILE = "spark-connect.token"


def _under_home(*parts: str) -> Callable[[Path], Path]:
    return lambda home: home.joinpath(*parts)


# Field -> (environment variable, how its text is read, default: its text, a folder under the home, or
# None for unset). The one list that from_env reads and to_env writes; `home` comes first, the folders
# under it follow. timezone is not configurable: weeks are Beijing-time weeks everywhere.
VARIABLES: dict[str, tuple[str, Callable[[str], Any], str | Callable[[Path], Path] | None]] = {
    # The same home as `make demo` (Makefile: FENGQIAO_HOME ?= $(CURDIR)/var), so that a `fengqiao run` after
    # the demo finds the models the demo registered instead of training again.
    "home": ("FENGQIAO_HOME", _path, "var"),
    "source_dir": ("FENGQIAO_SOURCE", _path, _under_home("source")),
    "lake_dir": ("FENGQIAO_LAKE", _path, _under_home("lake")),
    "model_dir": ("FENGQIAO_MODEL_DIR", _path, _under_home("models")),
    "airflow_home": ("AIRFLOW_HOME", _path, _under_home("airflow")),
    "bureau_keys_file": ("FENGQIAO_BUREAU_KEYS", _path, _under_home("secrets", "bureau_keys.csv")),
    "spark_master": ("SPARK_MASTER", str, "local[2]"),
    "spark_driver_memory": ("FENGQIAO_SPARK_DRIVER_MEMORY", str, "4g"),
    "spark_shuffle_partitions": ("FENGQIAO_SPARK_SHUFFLE_PARTITIONS", int, "8"),
    "spark_executor_memory": ("FENGQIAO_SPARK_EXECUTOR_MEMORY", str, "1g"),
    "spark_cores_max": ("FENGQIAO_SPARK_CORES_MAX", int, None),
    # Unset: SPARK_LOCAL_IP (read in from_env, not written back: the variable above then holds it).
    "spark_driver_host": ("FENGQIAO_SPARK_DRIVER_HOST", str, None),
    "spark_remote": ("SPARK_REMOTE", str, None),
    "spark_connect_token_file": ("FENGQIAO_SPARK_CONNECT_TOKEN_FILE", _path, _under_home(CONNECT_TOKEN_FILE)),
    "smtp_host": ("FENGQIAO_SMTP_HOST", str, None),
    "smtp_port": ("FENGQIAO_SMTP_PORT", int, "25"),
    "smtp_user": ("FENGQIAO_SMTP_USER", str, None),
    "smtp_password": ("FENGQIAO_SMTP_PASSWORD", str, None),
    "smtp_sender": ("FENGQIAO_SMTP_SENDER", str, "fengqiao-alerts@localhost"),
    "smtp_starttls": ("FENGQIAO_SMTP_STARTTLS", _flag, "false"),
    "smtp_ssl": ("FENGQIAO_SMTP_SSL", _flag, "false"),
    "alert_budget_share": ("FENGQIAO_ALERT_BUDGET", float, "0.02"),
    "horizon_weeks": ("FENGQIAO_HORIZON_WEEKS", int, "4"),
    "task_retries": ("FENGQIAO_TASK_RETRIES", int, "2"),
    "retry_delay_seconds": ("FENGQIAO_RETRY_DELAY_SECONDS", int, "120"),
    "through": ("FENGQIAO_THROUGH", str, None),
    "webhook_key": ("FENGQIAO_WEBHOOK_KEY", str, None),
    "workorders_dsn": ("FENGQIAO_WORKORDERS_DSN", str, None),
    "workorders_table": ("FENGQIAO_WORKORDERS_TABLE", str, "work_orders"),
    "workorders_overlap_seconds": ("FENGQIAO_WORKORDERS_OVERLAP_SECONDS", int, "900"),
    "workorders_batch_rows": ("FENGQIAO_WORKORDERS_BATCH_ROWS", int, "10000"),
    "pseudonym_key": ("FENGQIAO_PSEUDONYM_KEY", str, None),
    "pseudonym_key_file": ("FENGQIAO_PSEUDONYM_KEY_FILE", _path, None),
    "alert_cooldown_weeks": ("FENGQIAO_ALERT_COOLDOWN_WEEKS", int, "4"),
    "alert_retry_attempts": ("FENGQIAO_ALERT_RETRY_ATTEMPTS", int, "3"),
    "alert_retry_delay_seconds": ("FENGQIAO_ALERT_RETRY_DELAY_SECONDS", float, "1"),
    "webhook_timeout_seconds": ("FENGQIAO_WEBHOOK_TIMEOUT_SECONDS", float, "10"),
    "dispositions_dir": ("FENGQIAO_DISPOSITIONS_DIR", _path, None),
}
