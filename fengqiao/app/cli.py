"""``fengqiao``: simulate a province, run the pipeline through Airflow, backtest, query the lake.

The commands live by group: this module (simulate, train, backtest), :mod:`fengqiao.app.cli_pipeline` (run,
backfill, extract-orders-db, scheduler-trial), :mod:`fengqiao.app.cli_analyst` (query, shell), and what they
share in :mod:`fengqiao.app.cli_options`. Heavy libraries (Spark, scikit-learn, pandas) load inside the
command that needs them, so that ``fengqiao --help`` answers at once.
"""
from __future__ import annotations

import datetime as dt
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Optional

import typer

from fengqiao.app import cli_analyst, cli_pipeline
# The train and backtest commands print through _echo.
from fengqiao.app.cli_options import Protocol, Scale, World, echo as _echo, monday
from fengqiao.worlds import simulate_world

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fengqiao: early warning of dispute escalation from hotline, work-order and mediation data.")


def _print_version(value: bool) -> None:
    if value:
        _echo(f"fengqiao {metadata.version('fengqiao')}")
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
    start: str = typer.Option("2024-11-04", callback=monday, help="First day simulated (YYYY-MM-DD, a Monday)."),
    world: World = typer.Option(World.home, help="home (the project's simulator, 济南市/山东省) or contract (a "
                                "second generator written from the source contract alone)."),
    vary: bool = typer.Option(False, "--vary/--no-vary", help="Home world: draw rates, wording and episode "
                              "shapes per seed from wide ranges (domain randomisation)."),
) -> None:
    """Simulate a province's hotline, work-order and mediation drops with ground truth in truth/."""
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
    from fengqiao.core.settings import Settings
    from jobs.gold.alert_dispositions import read_dispositions
    from jobs.stages import lake_builder
    from jobs.training.lifecycle import train_on_lake, train_on_simulated
    from models.champion_challenger import format_decision
    from models.lifecycle import InsufficientLabelsError

    settings = Settings.from_env()
    target = (model_dir or settings.model_dir).resolve()
    if (rolling or truth or eval_lake) and lake is None:
        raise typer.BadParameter("--truth, --eval-lake and --rolling need --lake", param_hint="--lake")
    if eval_lake is not None and eval_truth is None:
        raise typer.BadParameter("--eval-lake needs --eval-truth (its labels)", param_hint="--eval-truth")

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
            result = train_on_simulated(target, lake_builder(settings, _echo), seed=seed, scale=scale.value, weeks=weeks,
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


@app.command("train-types")
def train_types(
    lake: Path = typer.Option(..., "--lake", help="Lake whose silver mediation cases and work orders (types as "
                              "their systems state them) train the classifier."),
    model_dir: Optional[Path] = typer.Option(None, help="Model registry (default FENGQIAO_MODEL_DIR)."),
    force: bool = typer.Option(False, "--force", help="Make the new classifier current even if it is worse."),
) -> None:
    """Train the dispute-type text classifier on this lake's own labelled texts (silver types the calls and orders
    its keyword rules and category table cannot with it). It becomes current only if it is at least as accurate as
    the current one on the lake's latest weeks, unless --force. Training data: the texts, never the callers."""
    from fengqiao.core.settings import Settings
    from jobs.training.text_models import retrain_type_model_on_lake

    target = (model_dir or Settings.from_env().model_dir).resolve()
    try:
        result = retrain_type_model_on_lake(target, lake.resolve(), force=force, echo=_echo)
    except ValueError as exc:
        _echo(f"not trained: {exc}")
        raise typer.Exit(code=2)
    own = result["held_out_own_texts"]
    line = f"held-out weeks from {result['held_out_from_week']} ({own['n']:,} texts): new classifier {own['accuracy']:.1%}"
    if "registered_model_on_same" in result:
        line += f", current one {result['registered_model_on_same']['accuracy']:.1%}"
    _echo(line)
    _echo(f"registered {result['registered']} in {target / 'text_dispute_type'} (current): {result['why']}"
          if result["registered"] else f"not registered: {result['why']}")


# The other groups' commands are registered between this module's, in the order `fengqiao --help` lists them.
app.command()(cli_pipeline.run)


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


app.command()(cli_analyst.query)
app.command()(cli_analyst.shell)
app.command()(cli_pipeline.backfill)
app.command(name="extract-orders-db")(cli_pipeline.extract_orders_db)
app.command(name="scheduler-trial")(cli_pipeline.scheduler_trial)
app.command(name="spark-connect-server")(cli_pipeline.spark_connect_server)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
