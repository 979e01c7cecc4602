"""The commands that run the pipeline: ``run`` (every DAG through Airflow), ``backfill``, ``extract-orders-db``,
``scheduler-trial`` and ``spark-connect-server``.

Each builds the run's settings once, from the environment with the command's options on top
(``dataclasses.replace``), and hands them on: to the stage functions, and to
:func:`fengqiao.app.airflow_runner.run_dags`, the one place that sets them as variables for the DAGs'
tasks. No command changes its own environment.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from fengqiao.app.airflow_runner import PipelineRunError, logs_to, prepare_airflow_home, run_dags
from fengqiao.app.cli_options import echo, iso_date, monday
from fengqiao.app.connect_recycling import RecyclePolicy, serve_recycled
from fengqiao.app.loopback_postgres import server_unavailable
from fengqiao.app.report import summarise_run
from fengqiao.app.scheduler_trial import run_trial
from fengqiao.core.keys import KEY_FILE_UNDER_CONNECT, PseudonymKeyError
from fengqiao.core.settings import Settings
from fengqiao.core.spark import (LOOPBACK_HOSTS, connect_server_command, connect_server_environment,
                                 connect_token_file)
from fengqiao.lake import Lake
from fengqiao.worlds import simulate_world
from jobs import stages


def check_pseudonym_key(settings: Settings) -> None:
    """Stop before any stage when the drop has no usable pseudonym key; say where the key comes from."""
    try:
        key = settings.resolved_pseudonym_key()
        if settings.spark_remote and key.file is None:
            raise PseudonymKeyError(KEY_FILE_UNDER_CONNECT)  # the silver jobs would refuse it, after bronze
    except PseudonymKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2)
    echo(f"pseudonym key from {key.origin}")


def run(
    source: Path = typer.Option(..., "--source", help="Source drop following the contract."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder (created if missing)."),
    through: Optional[str] = typer.Option(None, callback=iso_date,
                                          help="Only read day folders up to this date (YYYY-MM-DD)."),
    week: Optional[str] = typer.Option(None, callback=monday,
                                       help="Week (Monday) for the briefing and alerts; default latest."),
) -> None:
    """Run every stage in order through the Airflow DAGs: bronze, silver, audit, features, scores, outputs."""
    source, lake = source.resolve(), lake.resolve()
    if not source.is_dir():
        raise typer.BadParameter(f"{source} is not a folder", param_hint="--source")
    missing = [sub for sub in ("reference/regions.csv", "reference/bureaus.csv") if not (source / sub).is_file()]
    if missing:
        raise typer.BadParameter(f"{source} lacks {', '.join(missing)} (see the source contract)", param_hint="--source")
    environment = Settings.from_env()
    # A one-shot run fails at once with the reason; retries with delays are the scheduler's business (unless
    # FENGQIAO_TASK_RETRIES asks for them).
    retries = environment.task_retries if "FENGQIAO_TASK_RETRIES" in os.environ else 0
    settings = replace(environment, source_dir=source, lake_dir=lake, task_retries=retries,
                       through=through or environment.through)
    check_pseudonym_key(settings)

    lake.mkdir(parents=True, exist_ok=True)
    started = time.time()
    # Train (once) if no model is registered; Spark's start-up chatter goes to the run's log.
    with logs_to(lake / "_runs" / "training.log") as terminal:
        version = stages.ensure_model(settings, echo=lambda msg: terminal.write(msg + "\n"))["model_version"]
    echo(f"model: {version}")
    prepare_airflow_home(settings.airflow_home)

    from fengqiao.delivery.mailsink import local_mail_sink  # aiosmtpd's start-up cost: only for a run

    # Without an SMTP server configured, alerts go to a local mail sink whose messages are kept
    # as .eml files in the lake: the demo sends real SMTP, to loopback only.
    sink = nullcontext(None) if settings.smtp_host else local_mail_sink(Lake.at(lake).mailbox)
    with sink as address:
        if address:
            settings = replace(settings, smtp_host=address[0], smtp_port=address[1])
            echo(f"no FENGQIAO_SMTP_HOST set: alerts go to a local mail sink ({address[0]}:{address[1]}), "
                 f"saved in {Lake.at(lake).mailbox}")
        try:
            run_dags(lake, run_conf={"week_start": week}, settings=settings)
        except PipelineRunError as exc:
            echo(f"pipeline failed: {exc}")
            raise typer.Exit(code=1)
    echo(summarise_run(Lake.at(lake), seconds=time.time() - started))


def backfill(
    source: Path = typer.Option(..., "--source", help="Source drop following the contract."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    from_: str = typer.Option(..., "--from", callback=iso_date, help="First day folder to rebuild (YYYY-MM-DD)."),
    to: str = typer.Option(..., "--to", callback=iso_date, help="Last day folder to rebuild (YYYY-MM-DD)."),
) -> None:
    """Rebuild the day folders of a date range on purpose: land and merge them again, then features and scores."""
    source, lake = source.resolve(), lake.resolve()
    if not source.is_dir():
        raise typer.BadParameter(f"{source} is not a folder", param_hint="--source")
    start, end = dt.date.fromisoformat(from_), dt.date.fromisoformat(to)
    if end < start:
        raise typer.BadParameter(f"--to {to} is before --from {from_}")
    settings = replace(Settings.from_env(), source_dir=source, lake_dir=lake, through=None)
    started = time.time()
    echo(f"model: {stages.ensure_model(settings, echo=echo)['model_version']}")
    summary = stages.backfill(start, end, settings)  # the stage functions the DAGs call, without Airflow
    for feed, counts in summary["feeds"].items():
        echo(f"  {feed}: {counts['days']} day folders landed again ({counts['landed']} files), "
             f"silver rows {counts['rows']}")
    echo(f"backfill {start}..{end} done in {time.time() - started:.0f} s; features and scores rebuilt")


def extract_orders_db(
    lake: Path = typer.Option(..., "--lake", help="Lake folder (bronze is written there)."),
) -> None:
    """Land the work orders changed since the last extract from the work-order database into bronze.

    The database comes from FENGQIAO_WORKORDERS_DSN (and _TABLE) in the environment, never from an
    argument: a password on the command line would show in process lists and shell history.
    """
    summary = stages.extract_work_orders_db(replace(Settings.from_env(), lake_dir=lake.resolve()))
    if "skipped" in summary:
        echo(f"not extracted: {summary['skipped']}")
        raise typer.Exit(code=2)
    echo(f"{summary['rows_extracted']:,} rows extracted ({summary['rows_already_landed']:,} already landed), "
         f"{summary['files_landed']} files landed; watermark {summary['watermark']}")


def scheduler_trial(
    drop: Optional[Path] = typer.Option(None, "--drop", help="Drop to deliver day by day (default: simulate a small "
                                        "province of 4 weeks)."),
    days: int = typer.Option(5, min=1, help="Days delivered one at a time after the backlog."),
    work: Optional[Path] = typer.Option(None, "--work", help="Scratch folder (default $FENGQIAO_HOME/scheduler-trial; "
                                        "emptied first)."),
    keep: bool = typer.Option(False, "--keep", help="Leave Airflow running (UI on 127.0.0.1) until Enter is pressed."),
) -> None:
    """Run Airflow's real scheduler (LocalExecutor on a loopback PostgreSQL) over drops arriving day by day.

    Needs the PostgreSQL server binaries (Debian package postgresql). Prints each day's DAG runs and wall time.
    """
    reason = server_unavailable()
    if reason:
        echo(f"cannot run the trial: {reason}")
        raise typer.Exit(code=2)
    settings = Settings.from_env()
    work = (work or settings.home / "scheduler-trial").resolve()
    echo(f"model: {stages.ensure_model(settings, echo=echo)['model_version']}")
    if drop is None:
        drop = work.with_name(work.name + "-drop")
        if not (drop / "reference").is_dir():
            simulate_world("home", drop, seed=5, scale="small", weeks=4)
    wait = (lambda ui: input(f"Airflow is still running: {ui} (press Enter to stop) ")) if keep else None
    run_trial(work, drop.resolve(), settings.model_dir, days, keep=wait, echo=echo)


def spark_connect_server(
    host: str = typer.Option("127.0.0.1", help="Address to listen on. Off loopback the server has no token: "
                             "only a private network (docker-compose.yml's spark network) may reach it."),
    port: int = typer.Option(15002, min=1, max=65535, help="gRPC port of the server."),
    recycle_after_hours: float = typer.Option(
        24.0, min=0, help="Restart the server once it has run this long and no client has been connected for "
        "--recycle-idle-minutes: it keeps every session's Python workers until it stops (docs/operations.md). "
        "0: never."),
    recycle_idle_minutes: float = typer.Option(10.0, min=0, help="How long no client may have been connected "
                                               "before a due restart."),
) -> None:
    """Run a Spark Connect server, in the foreground until stopped, for the Spark stages of later runs.

    Started once and kept up, it spares every run (and every Airflow task) a JVM's start and warm-up; the stages
    become its clients with SPARK_REMOTE=sc://localhost:PORT. It runs with SPARK_MASTER and the driver's options
    as they are now. On loopback it demands a token of its clients, made on its first start in
    FENGQIAO_SPARK_CONNECT_TOKEN_FILE (default $FENGQIAO_HOME/spark-connect.token, mode 0600), which clients of the
    same user read. Under it the pseudonym key must be a file (FENGQIAO_PSEUDONYM_KEY_FILE): see SECURITY.md.
    It is restarted when due (--recycle-after-hours) and no client is connected (fengqiao.app.connect_recycling).
    """
    settings = Settings.from_env()
    command = connect_server_command(settings, port, host)
    extra = connect_server_environment(settings, host)
    # The server is nobody's client, and its spark-submit finds its own SPARK_HOME (the pyspark package).
    env = {key: value for key, value in os.environ.items() if key not in ("SPARK_REMOTE", "SPARK_HOME")}
    if host in LOOPBACK_HOSTS:
        echo(f"Spark Connect server on {host}:{port}, master {settings.spark_master}; its clients' token is in "
             f"{connect_token_file(settings)}. Run the stages with SPARK_REMOTE=sc://localhost:{port}")
    else:
        typer.echo(f"warning: listening on {host}:{port} without a token: whoever reaches this address runs code "
                   "with this server's rights (bronze, the pseudonym key). Keep it on a private network.", err=True)
    server_env = {**env, **extra}
    policy = RecyclePolicy(after_seconds=recycle_after_hours * 3600, idle_seconds=recycle_idle_minutes * 60)
    if not policy.after_seconds:
        os.execvpe(command[0], command, server_env)
    echo(f"recycled after {recycle_after_hours:g} h when no client has been connected for {recycle_idle_minutes:g} min")
    code = serve_recycled(command, server_env, port, policy, echo=echo)
    raise typer.Exit(code=code if code >= 0 else 128 - code)  # a server ended by signal N: the shell's 128 + N
