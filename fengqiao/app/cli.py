"""``fengqiao``: simulate a province, run the pipeline through Airflow, backtest, query the lake."""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fengqiao: early warning of dispute escalation from hotline, work-order and mediation data.")


class Scale(str, Enum):
    small = "small"
    city = "city"
    province = "province"


class World(str, Enum):
    home = "home"
    contract = "contract"


class Protocol(str, Enum):
    equal_capacity = "equal-capacity"
    as_sent = "as-sent"
    both = "both"


def _echo(message: str) -> None:
    typer.echo(message, err=False)


def _iso_date(value: Optional[str]) -> Optional[str]:
    """Option callback: a YYYY-MM-DD date, or one clear error line before any work starts."""
    if value is None:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)")
    return value


def _monday(value: Optional[str]) -> Optional[str]:
    """Option callback: a YYYY-MM-DD date that is a Monday (weeks start on Monday everywhere)."""
    if _iso_date(value) is not None and dt.date.fromisoformat(value).weekday() != 0:
        day = dt.date.fromisoformat(value)
        monday = day - dt.timedelta(days=day.weekday())
        raise typer.BadParameter(f"{value} is not a Monday (its week starts on {monday})")
    return value


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        _echo(f"fengqiao {version('fengqiao')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Fengqiao: early warning of dispute escalation from hotline, work-order and mediation data."""


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", help="Folder to write the source drop into (the contract's layout)."),
    seed: int = typer.Option(42, help="Random seed; the same seed writes the same bytes."),
    scale: Scale = typer.Option(Scale.city, help="small (2 counties), city (~200 townships) or province (home "
                                "world only)."),
    weeks: Optional[int] = typer.Option(None, min=1, help="Number of weeks (default: the scale's own)."),
    start: str = typer.Option("2024-11-04", callback=_monday, help="First day simulated (YYYY-MM-DD, a Monday)."),
    world: World = typer.Option(World.home, help="home (the project's simulator, 济南市/山东省) or contract (a "
                                "second generator written from the source contract alone)."),
    vary: bool = typer.Option(False, "--vary/--no-vary", help="Home world: draw rates, wording and episode "
                              "shapes per seed from wide ranges (domain randomisation)."),
) -> None:
    """Simulate a province's hotline, work-order and mediation drops with ground truth in truth/."""
    from fengqiao.worlds import simulate_world

    world, scale, first_day = world.value, scale.value, dt.date.fromisoformat(start)
    started = time.time()
    try:
        summary = simulate_world(world, out, seed=seed, scale=scale, weeks=weeks, start=first_day, vary=vary,
                                 progress=lambda msg: _echo(f"  {msg}"))
    except ValueError as exc:  # unknown scale, a start that is not a Monday, too few weeks
        raise typer.BadParameter(str(exc))
    _echo(f"simulated {scale} of the {world} world (seed {seed}) into {out} in {time.time() - started:.0f} s")
    for key, value in summary.items():
        _echo(f"  {key}: {value}")


@app.command()
def train(
    model_dir: Optional[Path] = typer.Option(None, help="Model registry (default FENGQIAO_MODEL_DIR)."),
    seed: int = typer.Option(20240101, help="Seed of the simulated training province."),
    scale: Scale = typer.Option(Scale.city, help="Scale of the simulated training province."),
    weeks: Optional[int] = typer.Option(None, min=1, help="Weeks to simulate for training."),
    world: World = typer.Option(World.home, help="World of the simulated training province: home or contract."),
    vary: bool = typer.Option(False, "--vary/--no-vary", help="Home world: domain-randomised (see simulate)."),
    lake: Optional[Path] = typer.Option(None, "--lake", help="Train on this lake's features and the bureaus' "
                                        "dispositions (gold/alert_dispositions) instead of a simulated province."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="With --lake: the simulator's truth/ folder; its "
                                         "labels win over dispositions. Never give it for a real drop."),
    force: bool = typer.Option(False, "--force", help="Make the new model current even if it is worse."),
    holdout_weeks: int = typer.Option(13, help="Latest labelled weeks held out to compare new and current model."),
    eval_lake: Optional[Path] = typer.Option(None, "--eval-lake", help="Compare on this lake (e.g. another "
                                             "simulated seed) instead of held-out weeks; needs --eval-truth."),
    eval_truth: Optional[Path] = typer.Option(None, "--eval-truth", help="truth/ folder of --eval-lake."),
    rolling: bool = typer.Option(False, "--rolling", help="With --lake: retrain every --step weeks on what was "
                                 "known then and score the weeks after (detector model_rolling); registers nothing."),
    step: int = typer.Option(13, help="With --rolling: weeks between origins."),
    out: Optional[Path] = typer.Option(None, "--out", help="With --rolling: write the scores to this Parquet file."),
) -> None:
    """Train the escalation model and register it; it becomes current only if it is at least as good as the
    current one on the same held-out labels (champion/challenger), unless --force."""
    from fengqiao.lake import Lake
    from fengqiao.core.settings import get_settings
    from fengqiao.delivery.acknowledgements import read_dispositions
    from jobs.training.lifecycle import train_on_lake, train_on_simulated
    from models.champion_challenger import format_decision
    from models.lifecycle import InsufficientLabelsError

    target = (model_dir or get_settings().model_dir).resolve()
    if (rolling or truth or eval_lake) and lake is None:
        raise typer.BadParameter("--truth, --eval-lake and --rolling need --lake", param_hint="--lake")
    if eval_lake is not None and eval_truth is None:
        raise typer.BadParameter("--eval-lake needs --eval-truth (its labels)", param_hint="--eval-truth")

    def build_lake(source_dir: Path, lake_dir: Path) -> None:
        # Temporary adapter until jobs.stages gives build_lake: the stage functions on a scoped environment.
        from fengqiao.core.envscope import settings_env
        from fengqiao.lake import FEEDS
        from jobs import stages as pipeline

        with settings_env(FENGQIAO_SOURCE=str(source_dir), FENGQIAO_LAKE=str(lake_dir), FENGQIAO_THROUGH=None):
            for feed in FEEDS:
                _echo(f"  landing and cleaning {feed} …")
                pipeline.land_feed(feed)
                pipeline.build_silver(feed)
            _echo("  building features …")
            pipeline.build_features()

    try:
        if rolling:
            from jobs.training.lifecycle import lake_labels
            from models.rolling_origin import rolling_origin_runs

            scored = Lake.at(lake.resolve())
            features, labels, stats = lake_labels(scored, read_dispositions(scored), truth)
            _echo(f"labels: {stats}")
            scores, runs = rolling_origin_runs(features, labels=labels, step_weeks=step, reasons=out is not None,
                                               echo=_echo)
            _echo(runs.to_string(index=False))
            if out is not None:
                scores.to_parquet(out, index=False)
                _echo(f"wrote {len(scores)} rows of model_rolling scores to {out}")
            return
        if lake is None:
            result = train_on_simulated(target, build_lake, seed=seed, scale=scale.value, weeks=weeks,
                                        holdout_weeks=holdout_weeks, force=force, echo=_echo, world=world.value,
                                        vary=vary)
        else:
            trained = Lake.at(lake.resolve())
            evaluated = Lake.at(eval_lake.resolve()) if eval_lake else None
            result = train_on_lake(trained, read_dispositions(trained), target, truth_dir=truth,
                                   holdout_weeks=holdout_weeks, force=force, eval_lake=evaluated,
                                   eval_dispositions=read_dispositions(evaluated) if evaluated else None,
                                   eval_truth_dir=eval_truth, echo=_echo)
    except InsufficientLabelsError as exc:
        _echo(f"not trained: {exc}")
        raise typer.Exit(code=2)
    _echo(format_decision(result))
    role = "current" if result["current"] == result["model_version"] else "challenger, not current"
    _echo(f"registered {result['model_version']} in {target} ({role})")


def _check_pseudonym_key(settings) -> None:
    """Stop before any stage when the drop has no usable pseudonym key; say where the key comes from."""
    from fengqiao.core.keys import PseudonymKeyError

    try:
        key = settings.resolved_pseudonym_key()
    except PseudonymKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2)
    _echo(f"pseudonym key from {key.origin}")


@app.command()
def run(
    source: Path = typer.Option(..., "--source", help="Source drop following the contract."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder (created if missing)."),
    through: Optional[str] = typer.Option(None, callback=_iso_date,
                                          help="Only read day folders up to this date (YYYY-MM-DD)."),
    week: Optional[str] = typer.Option(None, callback=_monday,
                                       help="Week (Monday) for the briefing and alerts; default latest."),
) -> None:
    """Run every stage in order through the Airflow DAGs: bronze, silver, audit, features, scores, outputs."""
    from fengqiao.app.airflow_runner import PipelineRunError, logs_to, prepare_airflow_home, run_dags
    from fengqiao.lake import Lake
    from fengqiao.core.settings import get_settings

    source, lake = source.resolve(), lake.resolve()
    if not source.is_dir():
        raise typer.BadParameter(f"{source} is not a folder", param_hint="--source")
    missing = [sub for sub in ("reference/regions.csv", "reference/bureaus.csv") if not (source / sub).is_file()]
    if missing:
        raise typer.BadParameter(f"{source} lacks {', '.join(missing)} (see the source contract)", param_hint="--source")
    os.environ.update({"FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake)})
    # A one-shot run fails at once with the reason; retries with delays are the scheduler's business.
    os.environ.setdefault("FENGQIAO_TASK_RETRIES", "0")
    if through:
        os.environ["FENGQIAO_THROUGH"] = through
    settings = get_settings()
    _check_pseudonym_key(settings)
    from jobs.training.bootstrap import ensure_model  # scikit-learn takes seconds to import: after the key check

    lake.mkdir(parents=True, exist_ok=True)
    started = time.time()
    # Train (once) if no model is registered; Spark's start-up chatter goes to the run's log.
    with logs_to(lake / "_runs" / "training.log") as terminal:
        version = ensure_model(settings.model_dir, echo=lambda msg: terminal.write(msg + "\n"))
    _echo(f"model: {version}")
    prepare_airflow_home(settings.airflow_home)

    from contextlib import nullcontext

    from fengqiao.delivery.mailsink import local_mail_sink

    # Without an SMTP server configured, alerts go to a local mail sink whose messages are kept
    # as .eml files in the lake: the demo sends real SMTP, to loopback only.
    sink = nullcontext(None) if settings.smtp_host else local_mail_sink(Lake.at(lake).mailbox)
    with sink as address:
        if address:
            os.environ["FENGQIAO_SMTP_HOST"], os.environ["FENGQIAO_SMTP_PORT"] = address[0], str(address[1])
            _echo(f"no FENGQIAO_SMTP_HOST set: alerts go to a local mail sink ({address[0]}:{address[1]}), "
                  f"saved in {Lake.at(lake).mailbox}")
        try:
            run_dags(lake, run_conf={"week_start": week}, echo=_echo)
        except PipelineRunError as exc:
            _echo(f"pipeline failed: {exc}")
            raise typer.Exit(code=1)
    from fengqiao.app.report import summarise_run

    _echo(summarise_run(Lake.at(lake), seconds=time.time() - started))


@app.command()
def backtest(
    lake: Path = typer.Option(..., "--lake", help="Lake that `fengqiao run` has scored."),
    truth: Path = typer.Option(..., "--truth", help="The simulator's truth/ folder (episodes.csv)."),
    budget: float = typer.Option(0.02, help="Share of townships alerted each week."),
    protocol: Protocol = typer.Option(Protocol.both, "--protocol", help="equal-capacity (each detector's top "
                                      "share every week), as-sent (only where its own alarm rule fires, capped at "
                                      "the budget) or both."),
    report: Optional[Path] = typer.Option(None, "--report", help="HTML report to write (default "
                                          "<lake>/reports/backtest/backtest.html)."),
    train_lake: list[Path] = typer.Option([], "--train-lake", help="Cross-world mode: train a fresh model on "
                                          "this simulated drop's lake (repeatable, paired with --train-truth) "
                                          "and score --lake with it instead of its published scores."),
    train_truth: list[Path] = typer.Option([], "--train-truth", help="truth/ folder of each --train-lake."),
) -> None:
    """Compare the model with count baselines and the keyword rule on simulator ground truth; print the
    tables, write the report. With --train-lake/--train-truth: train on those drops (e.g. another world)
    and score this one, so that what the model learned is measured on a world it never saw."""
    from fengqiao.lake import Lake
    from fengqiao.worlds import world_label, world_of
    from jobs.training.backtest import backtest_run
    from jobs.training.backtest_report import data_fingerprint, default_report_path, write_report
    from models.backtest import ALL_BASELINES, format_backtest

    protocol = protocol.value
    if not (lake / "gold" / "risk_scores").is_dir() and not train_lake:
        raise typer.BadParameter(f"{lake} holds no gold/risk_scores: run `fengqiao run` on it first",
                                 param_hint="--lake")
    if len(train_lake) != len(train_truth):
        raise typer.BadParameter("give one --train-truth for each --train-lake", param_hint="--train-truth")
    if not (truth / "episodes.csv").is_file():
        raise typer.BadParameter(f"{truth} holds no episodes.csv (a real drop has no truth to backtest on)",
                                 param_hint="--truth")
    target = Lake.at(lake)
    if train_lake:
        from jobs.training.cross_world_backtest import backtest_drop, read_drop, train_on

        training = [read_drop(lk.resolve(), tr.resolve()) for lk, tr in zip(train_lake, train_truth)]
        scored = read_drop(lake.resolve(), truth.resolve())
        _echo(f"cross-world: training on {', '.join(d.label for d in training)}; scoring {scored.label}")
        model, metadata = train_on(training)
        result, _ = backtest_drop(model, metadata, scored, budget, ALL_BASELINES, protocol=protocol.replace("-", "_"))
        result.meta.update(lake=str(target.root), truth=str(truth), baselines=list(ALL_BASELINES),
                           trained_on=[d.label for d in training])
    else:
        result = backtest_run(target, truth, budget_share=budget, baselines=ALL_BASELINES,
                              protocol=protocol.replace("-", "_"))
        _echo(f"scored on {world_label(world_of(truth))} by the published model "
              f"({', '.join(sorted(set(result.table.loc[result.table['detector'] == 'model', 'model_version'])))})")
    _echo(format_backtest(result.table))
    path = write_report(result, report or default_report_path(target), data_fingerprint(target, truth))
    _echo(f"report: {path}")


_ROLE_HELP = ("province (default: every gold table, every region), county (gold rows of --county) or steward "
              "(gold and masked silver); see docs/example-questions.md.")
_COUNTY_HELP = "6-digit code of the county analyst's county, e.g. 370102 (implies --role county)."


def _analyst_access(lake: Path, role: Optional[str], county: Optional[str]):
    """The role asked for, or one line and exit code 2 when it cannot be granted."""
    from fengqiao.app.analyst import AccessError, access_for

    if not (lake / "gold").is_dir() and not (lake / "silver").is_dir():
        _echo(f"no lake at {lake}: it holds neither gold/ nor silver/ (`fengqiao run --lake {lake}` builds one)")
        raise typer.Exit(code=2)
    try:
        return access_for(role, county, lake)
    except AccessError as exc:
        _echo(f"access refused: {exc}")
        raise typer.Exit(code=2)


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL over the role's tables, e.g. \"select * from risk_scores limit 5\"."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    max_rows: int = typer.Option(50, help="Rows to print at most."),
    role: Optional[str] = typer.Option(None, "--role", help=_ROLE_HELP),
    county: Optional[str] = typer.Option(None, "--county", help=_COUNTY_HELP),
) -> None:
    """Query the lake's Parquet with DuckDB: each table the role may read is a view of its name; files,
    extensions, settings and other tables are out of reach."""
    from fengqiao.app.analyst import connect, explain_error, table_names

    access = _analyst_access(lake, role, county)
    try:
        con = connect(lake, access)
    except Exception as exc:  # an unreadable Parquet file of the lake (pyarrow and OS errors)
        _echo(f"cannot read the lake's tables: {explain_error(exc, access)}")
        raise typer.Exit(code=1)
    try:
        result = con.sql(sql)
        frame = None if result is None else result.fetchdf()
    except Exception as exc:  # duckdb raises several error types; all are the user's SQL
        _echo(f"query failed: {explain_error(exc, access, table_names(con))}")
        raise typer.Exit(code=2)
    if frame is None:
        return
    import pandas as pd

    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.unicode.east_asian_width", True):
        _echo(frame.head(max_rows).to_string(index=False))
    if len(frame) > max_rows:
        _echo(f"… {len(frame)} rows, {max_rows} shown")


@app.command()
def shell(
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    role: Optional[str] = typer.Option(None, "--role", help=_ROLE_HELP),
    county: Optional[str] = typer.Option(None, "--county", help=_COUNTY_HELP),
) -> None:
    """Interactive SQL over the role's tables (DuckDB): end SQL with ';', .tables, .schema T, .quit."""
    from fengqiao.app.shell import run_shell

    code = run_shell(lake, access=_analyst_access(lake, role, county))
    if code:
        raise typer.Exit(code=code)


@app.command()
def backfill(
    source: Path = typer.Option(..., "--source", help="Source drop following the contract."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    from_: str = typer.Option(..., "--from", callback=_iso_date, help="First day folder to rebuild (YYYY-MM-DD)."),
    to: str = typer.Option(..., "--to", callback=_iso_date, help="Last day folder to rebuild (YYYY-MM-DD)."),
) -> None:
    """Rebuild the day folders of a date range on purpose: land and merge them again, then features and scores."""
    from jobs import stages as pipeline
    from fengqiao.core.settings import get_settings
    from jobs.training.bootstrap import ensure_model

    source, lake = source.resolve(), lake.resolve()
    if not source.is_dir():
        raise typer.BadParameter(f"{source} is not a folder", param_hint="--source")
    start, end = dt.date.fromisoformat(from_), dt.date.fromisoformat(to)
    if end < start:
        raise typer.BadParameter(f"--to {to} is before --from {from_}")
    os.environ.update({"FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake)})
    os.environ.pop("FENGQIAO_THROUGH", None)
    started = time.time()
    _echo(f"model: {ensure_model(get_settings().model_dir, echo=_echo)}")
    summary = pipeline.backfill(start, end)  # the stage functions the DAGs call, without Airflow
    for feed, counts in summary["feeds"].items():
        _echo(f"  {feed}: {counts['days']} day folders landed again ({counts['landed']} files), "
              f"silver rows {counts['rows']}")
    _echo(f"backfill {start}..{end} done in {time.time() - started:.0f} s; features and scores rebuilt")


@app.command(name="extract-orders-db")
def extract_orders_db(
    lake: Path = typer.Option(..., "--lake", help="Lake folder (bronze is written there)."),
) -> None:
    """Land the work orders changed since the last extract from the work-order database into bronze.

    The database comes from FENGQIAO_WORKORDERS_DSN (and _TABLE) in the environment, never from an
    argument: a password on the command line would show in process lists and shell history.
    """
    from jobs import stages as pipeline

    os.environ["FENGQIAO_LAKE"] = str(lake.resolve())
    summary = pipeline.extract_work_orders_db()
    if "skipped" in summary:
        _echo(f"not extracted: {summary['skipped']}")
        raise typer.Exit(code=2)
    _echo(f"{summary['rows_extracted']:,} rows extracted ({summary['rows_already_landed']:,} already landed), "
          f"{summary['files_landed']} files landed; watermark {summary['watermark']}")


@app.command(name="scheduler-trial")
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
    from fengqiao.app.loopback_postgres import server_unavailable
    from fengqiao.app.scheduler_trial import run_trial
    from fengqiao.core.settings import get_settings
    from jobs.training.bootstrap import ensure_model

    reason = server_unavailable()
    if reason:
        _echo(f"cannot run the trial: {reason}")
        raise typer.Exit(code=2)
    settings = get_settings()
    work = (work or settings.home / "scheduler-trial").resolve()
    _echo(f"model: {ensure_model(settings.model_dir, echo=_echo)}")
    if drop is None:
        from fengqiao.worlds import simulate_world

        drop = work.with_name(work.name + "-drop")
        if not (drop / "reference").is_dir():
            simulate_world("home", drop, seed=5, scale="small", weeks=4)
    wait = (lambda ui: input(f"Airflow is still running: {ui} (press Enter to stop) ")) if keep else None
    run_trial(work, drop.resolve(), settings.model_dir, days, keep=wait, echo=_echo)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
