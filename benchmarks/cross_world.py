"""Cross-world detection quality (issue 17): choose on one world, report on another. Run on demand, never as a test.

    .venv/bin/python benchmarks/detection_quality.py --cross-world                 # development seeds
    .venv/bin/python benchmarks/detection_quality.py --cross-world --heldout       # the held-out seeds: report only

Seeds come from ``benchmarks/heldout_seeds.toml`` (written down before any choice was made). For each world
(``home``: the project's simulator; ``contract``: the generator written from the source contract alone) a
model is trained on that world's training seeds (home training drops domain-randomised, ``--vary``) and
scored on the evaluation seeds of *both* worlds: the same-world rows show what the model learned, the
other-world rows whether it transfers. Every detector (the model, the keyword + signals rule, EARS,
Farrington, persistence) is backtested on the same weeks of each evaluation drop under both protocols
(:mod:`jobs.training.cross_world_backtest`, :mod:`models.backtest`).

Each drop is simulated and its silver and gold features are built once (no Airflow; the stage functions
``fengqiao run`` calls) under ``--work``, and reused by later runs (``--rebuild`` to start again).
"""
from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS_FILE = ROOT / "benchmarks" / "heldout_seeds.toml"
TARGETS = {"recall": 0.85, "median_lead_weeks": 3.0, "precision": 0.30, "home_recall": 0.9, "home_precision": 0.45}


def read_seeds(path: Path = SEEDS_FILE) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def heldout_specs(seeds: dict) -> set[str]:
    """``WORLD:SEED`` of every held-out seed of ``seeds`` (as :func:`read_seeds` gives them)."""
    return {f"{w}:{s}" for w in seeds for s in seeds[w]["heldout"]}


def drop_dir(work: Path, world: str, seed: int, scale: str, vary: bool) -> Path:
    return work / f"{world}{'-varied' if vary else ''}-{scale}-seed-{seed}"


def built_drop(work: Path, world: str, seed: int, scale: str, weeks, vary: bool, rebuild: bool, echo=print):
    """The drop's folder with source/ and lake/ (built now unless already there)."""
    import shutil

    from fengqiao.core.settings import Settings
    from jobs.stages import lake_builder
    from jobs.training.bootstrap import build_simulated_lake

    folder = drop_dir(work, world, seed, scale, vary)
    done = folder / "built"
    if done.exists() and not rebuild:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.time()
    build_simulated_lake(folder, seed, scale, lake_builder(Settings.from_env(), echo), weeks, echo=echo, world=world, vary=vary)
    done.write_text(f"{time.time() - started:.0f} s\n", encoding="utf-8")
    echo(f"built {folder.name} in {time.time() - started:.0f} s")
    return folder


def cross_world_tables(args, echo=print):
    """Build the drops, train one model per world, backtest every evaluation drop; one table of all rows."""
    import pandas as pd

    from jobs.training.cross_world_backtest import cross_world_backtest, read_drop

    seeds = read_seeds()
    work = Path(args.work).resolve()
    role = "heldout" if args.heldout else "development"
    heldout = heldout_specs(seeds)
    if set(args.train or ()) & heldout:
        raise SystemExit(f"never train on a held-out seed: {sorted(set(args.train) & heldout)}")
    if set(args.evaluate or ()) & heldout and not args.heldout:
        raise SystemExit("scoring a held-out seed is a report: say --heldout")
    worlds = args.worlds

    def drops(world, which, vary):
        out = []
        # Seeds once held out and reported are development seeds from the next modelling pass on.
        chosen = seeds[world][which] + (seeds[world].get("reported", []) if which == "development" else [])
        for seed in chosen:
            folder = built_drop(work, world, seed, args.scale, args.weeks, vary, args.rebuild, echo)
            out.append(read_drop(folder / "lake", folder / "source" / "truth"))
        return out

    def named(specs, vary_home):
        out = []
        for spec in specs:
            world, seed = spec.split(":")
            folder = built_drop(work, world, int(seed), args.scale, args.weeks, vary_home and world == "home",
                                args.rebuild, echo)
            out.append(read_drop(folder / "lake", folder / "source" / "truth"))
        return out

    if args.evaluate:
        every = named(args.evaluate, False)
    else:
        every = [d for w in worlds for d in drops(w, role, False)]
    trainings = ({w: drops(w, "training", w == "home") for w in worlds} if not args.train
                 else {"+".join(args.train): named(args.train, True)})
    ablate = bool(getattr(args, "ablate_referrals", False))
    tables = [cross_world_backtest(training, every, args.budget, echo=echo, ablate_referrals=ablate)
              for training in trainings.values()]
    return pd.concat(tables, ignore_index=True), role


SHOWN = ["train_world", "eval_world", "eval_seed", "protocol", "detector", "episodes", "detected", "recall",
         "median_lead_weeks", "lead_ceiling_weeks", "rule_alarm_lead_weeks", "precision", "alerts_per_week",
         "false_alerts_confounder", "average_precision", "brier", "mean_probability", "observed_rate"]


def summary_rows(table):
    """Mean over evaluation seeds per (train world, eval world, protocol, detector), pooled recall too."""
    keys = ["train_world", "eval_world", "protocol", "detector"]
    num = [c for c in ("recall", "median_lead_weeks", "lead_ceiling_weeks", "rule_alarm_lead_weeks", "precision",
                       "alerts_per_week", "false_alerts_confounder", "average_precision", "brier",
                       "mean_probability", "observed_rate") if c in table]
    g = table.groupby(keys, sort=False)
    out = g[num].mean()
    sums = g[["detected", "episodes", "alerts"]].sum()
    out["pooled_recall"] = sums["detected"] / sums["episodes"].where(sums["episodes"] > 0)
    out["alerts"] = sums["alerts"]
    return out.reset_index()


# Issue 17's targets for a model scored on a world it was not trained on (as sent, budget 2%).
TARGET_RECALL, TARGET_LEAD_WEEKS, TARGET_RECALL_OVER_RULE = 0.85, 3.0, 0.10
TARGET_PRECISION, TARGET_PRECISION_OVER_RULE = 0.30, 2.0
# ... and on the home simulator itself, no worse than before the issue.
TARGET_HOME_RECALL, TARGET_HOME_PRECISION = 0.9, 0.45


def _check(ok: bool) -> str:
    return "met" if ok else "NOT met"


def verdicts(summary) -> list[str]:
    """Each model row (as sent) against the issue's targets, beside the keyword + signals rule's figures."""
    lines = []
    s = summary[summary["protocol"] == "as_sent"].set_index(["train_world", "eval_world", "detector"])
    # Equal capacity alerts exactly the budget every week: its alerts a week are the budget.
    budget = (summary[summary["protocol"] == "equal_capacity"]
              .set_index(["train_world", "eval_world", "detector"])["alerts_per_week"])
    for (train, ev, det), row in s.iterrows():
        if det != "model" or (train, ev, "keyword_rule") not in s.index:
            continue
        kw = s.loc[(train, ev, "keyword_rule")]
        cap = budget.get((train, ev, det), float("nan"))
        r, lead, prec = row["recall"], row["median_lead_weeks"], row["precision"]
        lines.append(f"- trained {train} → scored {ev} ({'other world' if train != ev else 'same world'}): "
                     f"recall {r:.3f}, lead {lead:.2f} wk, precision {prec:.3f}, {row['alerts_per_week']:.2f} "
                     f"alerts a week, confounder false alerts {row['false_alerts_confounder']:.1f}; keyword rule "
                     f"{kw['recall']:.3f}, {kw['median_lead_weeks']:.2f} wk, {kw['precision']:.3f}, "
                     f"{kw['alerts_per_week']:.2f} a week, {kw['false_alerts_confounder']:.1f}")
        if train != ev:
            ceiling = row.get("lead_ceiling_weeks", float("nan"))
            if ceiling == ceiling:  # known (not NaN)
                lines.append(f"  - lead ceiling: {ceiling:.2f} wk (a perfect detector's median lead, alerting every "
                             f"escalation in the first week of its build-up)")
            seen = row.get("rule_alarm_lead_weeks", float("nan"))
            if seen == seen:
                lines.append(f"  - the keyword rule's every alarm (no budget): median lead {seen:.2f} wk, when the "
                             f"records first show a rise a hand-written rule can see")
            checks = [
                (f"recall >= {TARGET_RECALL}", r >= TARGET_RECALL),
                (f"median lead >= {TARGET_LEAD_WEEKS:g} wk", lead >= TARGET_LEAD_WEEKS),
                (f"recall >= keyword rule + {TARGET_RECALL_OVER_RULE}", r >= kw["recall"] + TARGET_RECALL_OVER_RULE),
                (f"precision >= {TARGET_PRECISION} and >= {TARGET_PRECISION_OVER_RULE:g}x the rule's "
                 f"({prec / kw['precision']:.2f}x)" if kw["precision"] > 0 else "precision vs rule",
                 prec >= TARGET_PRECISION and prec >= TARGET_PRECISION_OVER_RULE * kw["precision"]),
                ("confounder false alerts <= the rule's",
                 row["false_alerts_confounder"] <= kw["false_alerts_confounder"]),
                (f"fewer alerts a week than the budget ({cap:.2f})", row["alerts_per_week"] < cap),
            ]
        else:
            checks = [(f"recall >= {TARGET_HOME_RECALL}", r >= TARGET_HOME_RECALL),
                      (f"precision >= {TARGET_HOME_PRECISION}", prec >= TARGET_HOME_PRECISION)]
        lines.extend(f"  - {name}: {_check(ok)}" for name, ok in checks)
    return lines


def ablation_lines(summary) -> list[str]:
    """With and without the referral features (issue 21), as sent: the differences, whatever they are."""
    s = summary[summary["protocol"] == "as_sent"].set_index(["train_world", "eval_world", "detector"])
    lines = []
    for (train, ev, det), row in s.iterrows():
        if det != "model" or (train, ev, "model_without_referrals") not in s.index:
            continue
        off = s.loc[(train, ev, "model_without_referrals")]
        lines.append(f"- trained {train} → scored {ev}: with referral features recall {row['recall']:.3f}, lead "
                     f"{row['median_lead_weeks']:.2f} wk, precision {row['precision']:.3f}, AP "
                     f"{row['average_precision']:.3f}, confounder false alerts {row['false_alerts_confounder']:.1f}; "
                     f"without: {off['recall']:.3f}, {off['median_lead_weeks']:.2f} wk, {off['precision']:.3f}, "
                     f"AP {off['average_precision']:.3f}, {off['false_alerts_confounder']:.1f}")
    return lines


def main(args, echo=print) -> None:
    import datetime as dt
    import os
    import platform

    import pandas as pd

    table, role = cross_world_tables(args, echo)
    summary = summary_rows(table)
    out = Path(args.out or args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"cross_world_{role}.csv", index=False)
    seeds = read_seeds()
    header = (f"# Cross-world detection quality ({role} seeds), {dt.date.today().isoformat()}\n\n"
              f"Scale `{args.scale}`, alert budget {args.budget:.1%} of townships a week; "
              + ("; ".join(f"{w}: training {seeds[w]['training']}, {role} {seeds[w][role]}" for w in args.worlds)
                 if not (args.train or args.evaluate) else
                 f"trained on {' '.join(args.train or ['each world training seeds'])}, scored on "
                 f"{' '.join(args.evaluate or [role + ' seeds'])}")
              + f" (benchmarks/heldout_seeds.toml); {platform.node()}, {os.cpu_count()} cores.\n")
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.max_rows", 500):
        text = "\n".join([header, "## Mean over seeds", "", summary.to_markdown(index=False, floatfmt=".3f"), "",
                          "## Against the targets (as sent)", "", *verdicts(summary), "",
                          *(["## Referral features (issue 21): with and without, as sent", "",
                              *ablation_lines(summary), ""] if getattr(args, "ablate_referrals", False) else []),
                          "## Every seed", "", table[[c for c in SHOWN if c in table]].to_markdown(
                              index=False, floatfmt=".3f"), ""])
    (out / f"cross_world_{role}.md").write_text(text, encoding="utf-8")
    echo(text)
    echo(f"wrote {out / f'cross_world_{role}.md'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as: benchmarks/detection_quality.py --cross-world [--heldout]")
