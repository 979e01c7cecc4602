"""Detection quality over several simulated seeds (issue 5): run on demand, never as a test.

    .venv/bin/python benchmarks/detection_quality.py --scale small --seeds 7 8         # ~10 min a seed on 2 cores
    .venv/bin/python benchmarks/detection_quality.py --scale city --seeds 42 43 44 --work /big/disk/dq
    .venv/bin/python benchmarks/detection_quality.py --cross-world [--heldout]      # issue 17, benchmarks/cross_world.py
    .venv/bin/python benchmarks/detection_quality.py --cross-world --ablate-referrals   # issue 21: with/without

For each seed: simulate a drop (``fengqiao simulate``), run the whole pipeline on it (``fengqiao run`` in a
child process, with ``FENGQIAO_HOME``/``FENGQIAO_SOURCE``/``FENGQIAO_LAKE`` in the scratch folder and
``FENGQIAO_MODEL_DIR`` the shared model registry, as ``make demo`` does), then backtest every detector under
both protocols (:mod:`jobs.training.backtest`, :mod:`models.backtest`) and write that seed's HTML report to
``<lake>/reports/backtest/backtest.html``. Prints one table of every detector × seed × protocol followed by the
mean over seeds, and writes it as ``detection_quality.csv`` and ``detection_quality.md`` in ``--out``.

The model must not have been trained on these seeds: the default registry's model is trained on seed
20240101, which is refused here. (``training_overlap_weeks`` is not reported: the simulated calendars of all
seeds start on the same Monday, so the model's training window overlaps every seed's weeks by date although
it never saw their data.) Without a registered model ``fengqiao run`` trains one first (about 7 min at city
scale) into ``--model-dir``.

Means: every numeric column is averaged over seeds (NaN skipped, e.g. the median lead of a detector that
detected nothing in a seed); ``pooled_recall`` is the detected episodes of all seeds over their episodes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

COLUMNS = ["detector", "protocol", "seed", "model_version", "weeks", "episodes", "detected", "recall",
           "median_lead_weeks", "precision", "alerts_per_week", "false_alerts", "false_alerts_confounder",
           "average_precision", "brier"]


def fengqiao(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("fengqiao")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "fengqiao.app.cli", *args]


def seed_env(home: Path, source: Path, lake: Path, model_dir: Path) -> dict:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("FENGQIAO_")]:
        del env[key]          # nothing of the caller's lake, source or week leaks into the run
    env.pop("AIRFLOW_HOME", None)
    env.update(FENGQIAO_HOME=str(home), FENGQIAO_SOURCE=str(source), FENGQIAO_LAKE=str(lake),
               FENGQIAO_MODEL_DIR=str(model_dir), SPARK_LOCAL_IP=env.get("SPARK_LOCAL_IP", "127.0.0.1"),
               PYTHONPATH=str(ROOT))
    for key in ("FENGQIAO_PSEUDONYM_KEY", "FENGQIAO_ALERT_BUDGET"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def repo_relative(path) -> str:
    """``path`` relative to the repository when it lies inside it: a committed report names no machine's paths."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def run_logged(cmd: list[str], env: dict, log: Path) -> float:
    started = time.time()
    with open(log, "w", encoding="utf-8") as fh:
        code = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    if code:
        raise SystemExit(f"{' '.join(cmd[:2])} failed with exit code {code}: see {log}")
    return time.time() - started


def measure_seed(seed: int, args, model_dir: Path):
    from fengqiao.lake import Lake
    from jobs.training.backtest import backtest_run
    from jobs.training.backtest_report import data_fingerprint, default_report_path, write_report
    from models.backtest import ALL_BASELINES

    work = Path(args.work).resolve() / f"{args.scale}-seed-{seed}"
    source, lake, home = work / "source", work / "lake", work / "home"
    work.mkdir(parents=True, exist_ok=True)
    env = seed_env(home, source, lake, model_dir)
    reuse = args.reuse and (lake / "gold" / "risk_scores").is_dir() and (source / "truth" / "episodes.csv").is_file()
    timings = {}
    if not reuse:
        for path in (source, lake, home):
            if path.exists():
                import shutil
                shutil.rmtree(path)
        print(f"seed {seed}: simulating ({args.scale}) …", flush=True)
        sim = ["simulate", "--out", str(source), "--seed", str(seed), "--scale", args.scale]
        if args.weeks:
            sim += ["--weeks", str(args.weeks)]
        timings["simulate_s"] = run_logged(fengqiao(*sim), env, work / "simulate.log")
        print(f"seed {seed}: running the pipeline …", flush=True)
        timings["run_s"] = run_logged(fengqiao("run", "--source", str(source), "--lake", str(lake)), env,
                                      work / "run.log")
    else:
        print(f"seed {seed}: reusing {lake}", flush=True)
    started = time.time()
    result = backtest_run(Lake.at(lake), source / "truth", budget_share=args.budget, baselines=ALL_BASELINES,
                          protocol="both")
    report = write_report(result, default_report_path(Lake.at(lake)), data_fingerprint(Lake.at(lake), source / "truth"))
    timings["backtest_s"] = time.time() - started
    table = result.table.assign(seed=seed)
    print(f"seed {seed}: done ({', '.join(f'{k} {v:.0f}' for k, v in timings.items())}); report {report}", flush=True)
    return table, timings


def summarise(tables):
    import pandas as pd

    allrows = pd.concat(tables, ignore_index=True)
    cols = [c for c in COLUMNS if c in allrows]
    allrows = allrows[cols]
    numeric = [c for c in cols if c not in ("detector", "protocol", "seed", "model_version")]
    keys = ["protocol", "detector"]
    order = {k: i for i, k in enumerate(dict.fromkeys(allrows["detector"]))}
    mean = allrows.groupby(keys, sort=False)[numeric].mean().reset_index()
    sums = allrows.groupby(keys, sort=False)[["detected", "episodes"]].sum().reset_index()
    mean["pooled_recall"] = (sums["detected"] / sums["episodes"].where(sums["episodes"] > 0)).to_numpy()
    mean["seed"] = "mean"
    mean["model_version"] = allrows.groupby(keys, sort=False)["model_version"].first().to_numpy()
    allrows["seed"] = allrows["seed"].astype(str)
    out = pd.concat([allrows, mean], ignore_index=True)
    out["_p"] = out["protocol"].map({"equal_capacity": 0, "as_sent": 1})
    out["_d"] = out["detector"].map(order)
    out["_m"] = (out["seed"] == "mean").astype(int)
    out = out.sort_values(["_p", "_d", "_m", "seed"], kind="stable").drop(columns=["_p", "_d", "_m"])
    front = ["detector", "protocol", "seed"]
    return out[front + [c for c in out.columns if c not in front]].reset_index(drop=True)


def to_markdown(df, header: str) -> str:
    def fmt(col, v):
        if v is None or (isinstance(v, float) and v != v):
            return "—"
        if col in ("recall", "precision", "pooled_recall"):
            return f"{v:.0%}"
        if col in ("average_precision",):
            return f"{v:.3f}"
        if col == "brier":
            return f"{v:.4f}"
        if isinstance(v, float):
            return f"{v:.2f}" if not v.is_integer() else f"{v:.0f}"
        return str(v)

    cols = list(df.columns)
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [fmt(c, v) for c, v in zip(cols, row)]
        if row.seed == "mean":
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    default_models = Path(os.environ.get("FENGQIAO_HOME", ROOT / "var")) / "models"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    ap.add_argument("--scale", default="small", choices=["small", "city", "province"])
    ap.add_argument("--weeks", type=int, default=None, help="weeks to simulate (default: the scale's own)")
    ap.add_argument("--budget", type=float, default=0.02, help="share of townships alerted per week")
    ap.add_argument("--work", default=str(ROOT / "var" / "detection_quality"), help="scratch folder")
    ap.add_argument("--model-dir", default=os.environ.get("FENGQIAO_MODEL_DIR", str(default_models)),
                    help="shared model registry (default FENGQIAO_MODEL_DIR, else $FENGQIAO_HOME/models or var/models)")
    ap.add_argument("--out", default=None, help="folder for detection_quality.csv/.md (default --work)")
    ap.add_argument("--reuse", action="store_true", help="reuse a seed's lake if it was already run")
    ap.add_argument("--cross-world", action="store_true", help="train on one world, score both (seeds from "
                    "benchmarks/heldout_seeds.toml; see benchmarks/cross_world.py); --seeds is not used")
    ap.add_argument("--heldout", action="store_true", help="with --cross-world: score the held-out seeds "
                    "(report only: choose nothing on them)")
    ap.add_argument("--worlds", nargs="+", default=["home", "contract"], help="with --cross-world: the worlds")
    ap.add_argument("--rebuild", action="store_true", help="with --cross-world: build every drop again")
    ap.add_argument("--train", nargs="+", default=None, metavar="WORLD:SEED", help="with --cross-world: train "
                    "one model on these drops instead of each world's training seeds (home drops varied)")
    ap.add_argument("--evaluate", nargs="+", default=None, metavar="WORLD:SEED", help="with --cross-world: score "
                    "these drops instead of the seeds of --heldout / development (home drops as simulated)")
    ap.add_argument("--ablate-referrals", action="store_true", help="with --cross-world: also train and score the "
                    "model without the referral features (detector model_without_referrals)")
    args = ap.parse_args(argv)
    if args.cross_world:
        import cross_world

        if args.work == str(ROOT / "var" / "detection_quality"):
            args.work = str(ROOT / "var" / "cross_world")
        if args.scale == "small" and "--scale" not in (argv or sys.argv):
            args.scale = "city"
        cross_world.main(args, echo=lambda m: print(m, flush=True))
        return
    if 20240101 in args.seeds:
        raise SystemExit("seed 20240101 is the default model's training province: pick other seeds")

    import pandas as pd
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)

    model_dir = Path(args.model_dir).resolve()
    tables, timings = [], {}
    for seed in args.seeds:
        table, t = measure_seed(seed, args, model_dir)
        tables.append(table)
        timings[seed] = t
    summary = summarise(tables)
    out = Path(args.out or args.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "detection_quality.csv", index=False)
    header = (f"# Detection quality, {dt.date.today().isoformat()}\n\n"
              f"Scale `{args.scale}`, seeds {', '.join(map(str, args.seeds))}, alert budget {args.budget:.1%} of "
              f"townships per week, model registry `{repo_relative(model_dir)}`; {platform.node()}, {os.cpu_count()} cores. "
              f"Protocols and metrics: `models/backtest.py`. Timings (s): "
              + "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.0f}" for k, v in t.items()) for s, t in timings.items()))
    (out / "detection_quality.md").write_text(to_markdown(summary, header), encoding="utf-8")
    print(summary.to_string(index=False))
    print(f"\nwrote {out / 'detection_quality.csv'} and {out / 'detection_quality.md'}")


if __name__ == "__main__":
    main()
