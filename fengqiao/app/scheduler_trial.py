"""Airflow's own scheduler over drops that arrive one day at a time, as a province would run Fengqiao.

Starts a PostgreSQL server on the loopback address and Airflow 3's scheduler, dag-processor, triggerer and
api-server (LocalExecutor, UI on 127.0.0.1) with the project's DAGs, unpauses them, then for each day copies
that day's folders of a drop into the watched source folder and fires the daily ingest run (what ``@daily``
does at midnight), and waits until the asset chain ingest → features → scoring → alerts → briefing has
settled. Each day's DAG runs, their states, failed and retried tasks and the wall time are read from
Airflow's metadata database. ``fengqiao scheduler-trial`` and ``tests/app/test_scheduler_trial.py`` use it.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fengqiao.app.airflow_runner import DAGS_FOLDER
from fengqiao.app.loopback_postgres import LoopbackPostgres, free_port
from fengqiao.core.keys import ensure_demo_key, is_simulated_drop

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
DAG_IDS = ("fengqiao_ingest", "fengqiao_features", "fengqiao_scoring", "fengqiao_alerts", "fengqiao_briefing")
FEED_FOLDERS = ("hotline", "workorders", "mediation")


@dataclass
class DayResult:
    label: str
    delivered_files: int
    seconds: float
    runs: dict[str, list[str]] = field(default_factory=dict)   # dag_id -> states of the runs created that day
    retried: list[str] = field(default_factory=list)            # dag_id.task_id tried more than once
    failed: list[str] = field(default_factory=list)             # dag_id.task_id ending failed

    def line(self) -> str:
        runs = ", ".join(f"{dag.removeprefix('fengqiao_')} {'/'.join(states)}" for dag, states in self.runs.items())
        extra = (f"; retried {', '.join(self.retried)}" if self.retried else "") + \
                (f"; failed {', '.join(self.failed)}" if self.failed else "")
        return f"{self.label}: {self.delivered_files} files, {self.seconds:.0f} s — {runs or 'nothing ran'}{extra}"


def day_folders(drop: Path) -> list[dt.date]:
    """The days for which the drop holds a complete (``_READY``) folder of any feed, in order."""
    days = {dt.date.fromisoformat(p.parent.name) for feed in FEED_FOLDERS for p in (drop / feed).glob("*/_READY")}
    return sorted(days)


def deliver(drop: Path, source: Path, days: list[dt.date]) -> int:
    """Copy the days' feed folders (``_READY`` last, as an export job would) and the reference files."""
    copied = 0
    if not (source / "reference").is_dir():
        shutil.copytree(drop / "reference", source / "reference")
    for day in days:
        for feed in FEED_FOLDERS:
            folder = drop / feed / day.isoformat()
            if not folder.is_dir():
                continue
            target = source / feed / day.isoformat()
            target.mkdir(parents=True, exist_ok=True)
            files = sorted(folder.iterdir(), key=lambda p: p.name == "_READY")
            for path in files:
                shutil.copy2(path, target / path.name)
                copied += path.name != "_READY"
    return copied


class AirflowOnPostgres:
    """The four Airflow components on a loopback PostgreSQL server, with the project's DAGs."""

    def __init__(self, work: Path, fengqiao_env: dict[str, str], task_retries: int = 1, retry_delay: int = 3):
        self.work, self.logs = work, work / "airflow-logs"
        self.postgres = LoopbackPostgres(max_connections=60)
        self.api_port = free_port()
        self.fengqiao_env = {**fengqiao_env, "FENGQIAO_TASK_RETRIES": str(task_retries),
                             "FENGQIAO_RETRY_DELAY_SECONDS": str(retry_delay)}
        self.procs: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, echo=print) -> None:
        from cryptography.fernet import Fernet  # OpenSSL bindings: only when a trial starts Airflow

        self.postgres.start()
        url = self.postgres.create_database("airflow")
        home = self.work / "airflow"
        home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ, **self.fengqiao_env,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.ui}/execution/",
            # The UI on loopback for the person watching; no login page in the way.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # The DAG files do not change during a trial: parse them once, not every 30 s.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "tasks"),
        }
        echo(f"airflow: migrating the metadata database on PostgreSQL 127.0.0.1:{self.postgres.port}")
        self.cli("db", "migrate", timeout=600)
        for name in COMPONENTS:
            log = open(self.logs / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen([str(Path(bin_dir) / "airflow"), name], env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        echo(f"airflow: {', '.join(COMPONENTS)} started; UI on {self.ui}")

    def cli(self, *args: str, timeout: int = 180) -> str:
        proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed: {proc.stderr[-2000:]}")
        return proc.stdout

    def check_alive(self) -> None:
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"airflow {', '.join(dead)} stopped; see {self.logs}")

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with self.postgres.connect("airflow") as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def wait_for_dags(self, timeout: float = 300) -> None:
        """Until the dag-processor has stored every DAG (they start paused, as in any deployment)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.check_alive()
            found = {row[0] for row in self.sql("select dag_id from dag")}
            if set(DAG_IDS) <= found:
                return
            time.sleep(2)
        raise TimeoutError(f"the dag-processor did not store {set(DAG_IDS)} within {timeout:.0f} s")

    def unpause(self) -> None:
        self.cli("dags", "unpause", "--treat-dag-id-as-regex", "--yes", "^fengqiao_")

    def trigger_ingest(self) -> None:
        self.cli("dags", "trigger", "fengqiao_ingest")

    def busy(self) -> bool:
        """Runs queued or running, or asset events waiting to become runs."""
        running = self.sql("select count(*) from dag_run where state in ('queued', 'running')")[0][0]
        waiting = self.sql("select count(*) from asset_dag_run_queue")[0][0]
        return bool(running or waiting)

    def wait_until_settled(self, timeout: float, quiet_polls: int = 3, poll: float = 2.0) -> None:
        deadline, quiet = time.time() + timeout, 0
        while time.time() < deadline:
            self.check_alive()
            quiet = 0 if self.busy() else quiet + 1
            if quiet >= quiet_polls:
                return
            time.sleep(poll)
        raise TimeoutError(f"the DAG runs had not settled after {timeout:.0f} s; see {self.logs}")

    def runs_since(self, since: dt.datetime) -> tuple[dict[str, list[str]], list[str], list[str]]:
        runs: dict[str, list[str]] = {}
        for dag_id, state in self.sql("select dag_id, state from dag_run where run_after >= %s or queued_at >= %s "
                                      "order by dag_id, queued_at", (since, since)):
            runs.setdefault(dag_id, []).append(state)
        tasks = self.sql("select ti.dag_id, ti.task_id, ti.try_number, ti.state from task_instance ti "
                         "join dag_run r on r.dag_id = ti.dag_id and r.run_id = ti.run_id "
                         "where r.run_after >= %s or r.queued_at >= %s", (since, since))
        retried = sorted(f"{d}.{t}" for d, t, tries, _ in tasks if tries and tries > 1)
        failed = sorted(f"{d}.{t}" for d, t, _, state in tasks if state == "failed")
        return runs, retried, failed

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.postgres.stop()


def run_day(airflow: AirflowOnPostgres, label: str, deliver_files, timeout: float = 1200) -> DayResult:
    """Deliver (``deliver_files()`` returns the count), fire the daily ingest run, wait for the chain to settle."""
    since = dt.datetime.now(dt.timezone.utc)
    started = time.time()
    files = deliver_files()
    airflow.trigger_ingest()
    airflow.wait_until_settled(timeout)
    runs, retried, failed = airflow.runs_since(since)
    return DayResult(label, files, time.time() - started, runs, retried, failed)


def run_trial(work: Path, drop: Path, model_dir: Path, days: int, keep=None, echo=print) -> list[DayResult]:
    """The whole trial: a backlog of all but the last ``days`` days, then those days one at a time, then a day with
    nothing delivered. ``keep`` (a callable) is called with the UI address before Airflow is stopped."""
    from fengqiao.delivery.mailsink import local_mail_sink  # aiosmtpd's start-up cost: only for a trial

    ready = day_folders(drop)
    if len(ready) <= days:
        raise ValueError(f"{drop} holds {len(ready)} ready days: need more than --days {days}")
    source, lake = work / "source", work / "lake"
    shutil.rmtree(work, ignore_errors=True)
    source.mkdir(parents=True)
    # The delivered folder holds no truth/, so it reads as a real drop, which needs a pseudonym key: a simulated
    # drop's trial gets the per-install demo key; for a real export configure FENGQIAO_PSEUDONYM_KEY(_FILE).
    keyed = any(os.environ.get(name) for name in ("FENGQIAO_PSEUDONYM_KEY", "FENGQIAO_PSEUDONYM_KEY_FILE"))
    key_env = {} if keyed or not is_simulated_drop(drop) else {
        "FENGQIAO_PSEUDONYM_KEY_FILE": str(ensure_demo_key(work.parent))}
    results: list[DayResult] = []
    with local_mail_sink(work / "mail") as (host, port):
        airflow = AirflowOnPostgres(work, {
            "FENGQIAO_HOME": str(work / "home"), "FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake),
            "FENGQIAO_MODEL_DIR": str(model_dir), "FENGQIAO_SMTP_HOST": host, "FENGQIAO_SMTP_PORT": str(port),
            "FENGQIAO_SMTP_STARTTLS": "false", **key_env})
        try:
            airflow.start(echo=echo)
            airflow.wait_for_dags()
            airflow.unpause()
            airflow.wait_until_settled(timeout=600)
            plan = [(f"backlog ({len(ready) - days} days)", ready[:-days])]
            plan += [(f"day {day}", [day]) for day in ready[-days:]] + [("a day with nothing delivered", [])]
            for label, chunk in plan:
                result = run_day(airflow, label, lambda chunk=chunk: deliver(drop, source, chunk) if chunk else 0)
                echo(result.line())
                results.append(result)
            if keep:
                keep(airflow.ui)
        finally:
            airflow.stop()
    return results
