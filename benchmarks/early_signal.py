"""Is there anything in the records before a build-up's warning signs rise? (issue 17). Run on demand, never as a test.

    .venv/bin/python benchmarks/early_signal.py --work WORK contract:103 contract:104 home:71 home:72

For each drop already built by ``benchmarks/detection_quality.py --cross-world --work WORK`` (city scale), the
*early weeks* of every escalation are its build-up weeks before the keyword + signals rule first alarms there
(from ``start_week`` of the truth; to the peak when the rule never alarms); *ordinary weeks* are township-weeks
at least 8 weeks from any escalation of that township. Two measures of how far the early weeks stand out:

1. each relative column of the model (:data:`models.relative_features.RELATIVE_COLUMNS`), its AUC of early
   against ordinary weeks, per drop and on average;
2. all of them together: a gradient-boosted classifier trained on the other drops' early and ordinary weeks
   (leave one drop out; the classifier is given the very weeks the escalation model never labels positive),
   its AUC on the held drop, and how many early weeks fall in the top 2% of its scores.

With ``--cue-model DIR`` a third: the registered escalation-cue text model of ``DIR`` (``models.text_models``;
silver does not apply it) reads every silver call of the drop; per township-week, the calls it marks, raw and
relative to the township's own previous 8 weeks (``(x - mean) / sqrt(mean + 1)``), against the calls themselves:
does the model see cues in the early weeks that the lexicon does not?

Held-out seeds of ``benchmarks/heldout_seeds.toml`` are refused: this looks at the truth to choose what to try.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ORDINARY_DISTANCE_WEEKS = 8
TOP_SHARE = 0.02


def early_and_ordinary(features: pd.DataFrame, episodes: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The township rows of ``features`` that are early or ordinary weeks, with the relative columns and ``early``
    (and the columns of ``extra``, township rows keyed by ``region_code`` and ``week_start``)."""
    from models.backtest_metrics import township_escalations
    from models.keyword_rule import keyword_rule_scores
    from models.relative_features import RELATIVE_COLUMNS, add_relative_features

    town = add_relative_features(features[features["level"] == "township"].copy())
    town["week_start"] = pd.to_datetime(town["week_start"]).dt.date
    town["region_code"] = town["region_code"].astype(str)
    rule = keyword_rule_scores(features)[["region_code", "week_start", "alarm"]]
    rule = rule.assign(region_code=rule["region_code"].astype(str),
                       week_start=pd.to_datetime(rule["week_start"]).dt.date)
    town = town.merge(rule, on=["region_code", "week_start"], how="left")
    columns = list(RELATIVE_COLUMNS)
    if extra is not None:
        town = town.merge(extra, on=["region_code", "week_start"], how="left")
        columns += [c for c in extra.columns if c not in ("region_code", "week_start")]
    esc = township_escalations(episodes)
    weeks, codes = town["week_start"].to_numpy(), town["region_code"].to_numpy()
    alarm = town["alarm"].eq(True).to_numpy()
    near, early = np.zeros(len(town), bool), np.zeros(len(town), bool)
    gap = pd.Timedelta(weeks=ORDINARY_DISTANCE_WEEKS)
    for e in esc.itertuples(index=False):
        here = codes == e.township
        near |= here & (weeks >= e.start_week - gap) & (weeks <= e.end_week + gap)
        build_up = here & (weeks >= e.start_week) & (weeks <= e.peak_week)
        first_alarm = min(weeks[build_up & alarm], default=e.peak_week)
        early |= build_up & (weeks < first_alarm)
    keep = early | ~near
    return town.loc[keep, columns].assign(early=early[keep])


def cue_counts(lake: Path, model_dir: Path) -> tuple[pd.DataFrame, float]:
    """Per township-week of the lake's silver calls: ``calls``, ``cue_calls`` (the cue model's probability > 0.5)
    and both relative to the township's previous 8 weeks; and the share of all calls the model marks."""
    import duckdb

    from models.text_models import TextModels, hotline_input

    calls = duckdb.sql(f"select township_code as region_code, week_start, topic, transcript_text from "
                       f"read_parquet('{lake / 'silver' / 'hotline_calls'}/*/*.parquet', hive_partitioning=true)").df()
    model = TextModels.load(model_dir).cue
    if model is None:
        raise SystemExit(f"no escalation-cue model registered in {model_dir}")
    texts = [hotline_input(t, s) for t, s in zip(calls["topic"], calls["transcript_text"])]
    calls["cue"] = model.predict_proba(texts)[:, 1] > 0.5
    per_week = (calls.groupby(["region_code", "week_start"])
                .agg(calls=("cue", "size"), cue_calls=("cue", "sum")).reset_index()
                .sort_values(["region_code", "week_start"]))
    per_week["week_start"] = pd.to_datetime(per_week["week_start"]).dt.date
    for col in ("calls", "cue_calls"):
        usual = per_week.groupby("region_code")[col].transform(lambda s: s.shift(1).rolling(8, min_periods=4).mean())
        per_week[f"{col}_rel"] = (per_week[col] - usual) / np.sqrt(usual.fillna(0) + 1)
    return per_week, float(calls["cue"].mean())


def main() -> None:
    from cross_world import drop_dir, heldout_specs, read_seeds
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from fengqiao.lake import Lake
    from jobs.training.train import lake_features, truth_episodes
    from models.relative_features import RELATIVE_COLUMNS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="the --work folder of detection_quality.py --cross-world")
    parser.add_argument("--scale", default="city")
    parser.add_argument("--cue-model", type=Path, help="model folder whose escalation-cue text model to try")
    parser.add_argument("drops", nargs="+", help="WORLD:SEED of built development or reported drops")
    args = parser.parse_args()
    heldout = heldout_specs(read_seeds())
    if set(args.drops) & heldout:
        raise SystemExit(f"held-out seeds are only scored to report: {sorted(set(args.drops) & heldout)}")

    frames, cue_aucs = {}, {}
    for spec in args.drops:
        world, seed = spec.split(":")
        folder = drop_dir(Path(args.work), world, int(seed), args.scale, False)
        cues, marked = cue_counts(folder / "lake", args.cue_model) if args.cue_model else (None, None)
        frame = early_and_ordinary(lake_features(Lake.at(folder / "lake")),
                                   truth_episodes(folder / "source" / "truth", "needs a simulated drop"), cues)
        print(f"{spec}: {int(frame['early'].sum())} early weeks, {int((~frame['early']).sum())} ordinary", flush=True)
        if cues is not None:
            cols = [c for c in cues.columns if c not in ("region_code", "week_start")]
            cue_aucs[spec] = {"calls marked": marked, **{c: roc_auc_score(frame["early"][frame[c].notna()],
                                                                         frame[c].dropna()) for c in cols}}
        frames[spec] = frame[[*RELATIVE_COLUMNS, "early"]]
    if cue_aucs:
        print("\nThe escalation-cue model: share of calls it marks, and AUC of early against ordinary weeks:")
        print(pd.DataFrame(cue_aucs).T.round(3).to_string())

    aucs = {}
    for spec, f in frames.items():
        for col in RELATIVE_COLUMNS:
            x = pd.to_numeric(f[col], errors="coerce")
            ok = x.notna().to_numpy()
            if f["early"][ok].nunique() == 2:
                aucs.setdefault(col, {})[spec] = roc_auc_score(f["early"][ok], x[ok])
    table = pd.DataFrame(aucs).T
    table["mean"] = table.mean(axis=1)
    print("\nAUC of early against ordinary weeks, each relative column (best 10):")
    print(table.sort_values("mean", ascending=False).head(10).round(3).to_string())

    if len(frames) < 2:
        print("\nAll columns together: needs two drops or more (one to hold out, the others to train on)")
        return
    print(f"\nAll columns together, leave one drop out (top {TOP_SHARE:.0%} of the held drop's scores):")
    for spec, test in frames.items():
        train = pd.concat([f for s, f in frames.items() if s != spec], ignore_index=True)
        clf = HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05, class_weight="balanced",
                                             random_state=0).fit(train[RELATIVE_COLUMNS], train["early"])
        p, y = clf.predict_proba(test[RELATIVE_COLUMNS])[:, 1], test["early"].to_numpy()
        top = np.argsort(-p)[: max(1, int(TOP_SHARE * len(p)))]
        print(f"{spec}: AUC {roc_auc_score(y, p):.3f}, early weeks in the top {len(top)}: "
              f"{int(y[top].sum())} of {int(y.sum())}")


if __name__ == "__main__":
    main()
