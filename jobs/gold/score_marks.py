"""Writing gold/risk_scores and gold/baseline_scores as published: every week marked from gold/feed_health.

Regions of a county whose feed had an outage in the scored week keep their score but get ``data_gap`` and
a 数据中断 reason (:func:`jobs.gold.feed_health.mark_outages`), applied to every week of a table right before
its one write, so that a silent feed is not read as a calm week. A week's marks depend on that week's
outages only (:func:`outage_fingerprints`): a run that rescores some weeks keeps the others' files unless
their outages changed, and a run where only feed health changed re-marks without rescoring
(:func:`remark_scores`). Both tables have exactly the columns of ``fengqiao.core.schemas.RISK_SCORES_PUBLISHED``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from fengqiao.core.schemas import RISK_SCORES_PUBLISHED
from fengqiao.lake import Lake, for_parquet, read_table, week_of_partition, week_partitions, write_table
from fengqiao.lake.markers import write_inputs
from jobs.gold.feed_health import mark_outages, outages_by_county_week, read_feed_health
from models.score_frame import RISK_SCORE_COLUMNS
from models.score_frame import HORIZON_SCORE_COLUMNS

TABLES = ("risk_scores", "baseline_scores")


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """A scores frame with the scoring columns (RISK_SCORE_COLUMNS) typed, in the published row order."""
    out = df.reindex(columns=RISK_SCORE_COLUMNS).copy()  # tables published before the horizon columns
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.date
    out["score"] = out["score"].astype(float)
    out["flagged"] = out["flagged"].astype(bool)
    out["rank_in_week"] = out["rank_in_week"].astype("Int32")
    for col in HORIZON_SCORE_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["reasons"] = [list(r) for r in out["reasons"]]
    out["region_code"] = out["region_code"].astype(str)
    out["county_code"] = out["county_code"].astype(str)
    return out.sort_values(["week_start", "level", "rank_in_week"], ascending=[True, False, True],
                           ignore_index=True)


def read_published(lake: Lake, name: str) -> pd.DataFrame | None:
    """A published scores table as written (``data_gap`` included if present), reasons as lists; None if absent."""
    try:
        old = read_table(lake.gold(name))
    except FileNotFoundError:
        return None
    old["reasons"] = [list(r) if r is not None else [] for r in old["reasons"]]
    return old


def outage_fingerprints(health: pd.DataFrame | None) -> dict[str, str]:
    """Per week (ISO Monday): a digest of the (feed, county) outages in gold/feed_health that week.

    A week's marks (``data_gap``, the 数据中断 reason) depend on that week's outages only, so a week
    whose digest is unchanged keeps its published files when other weeks are rescored.
    """
    if health is None or not len(health):
        return {}
    by_week: dict[str, list[str]] = {}
    for (county, week), feeds in outages_by_county_week(health).items():
        by_week.setdefault(week.isoformat(), []).extend(f"{feed}:{county}" for feed in feeds)
    return {w: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest()[:16] for w, v in sorted(by_week.items())}


def _read_partitions(path: Path, names: list[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of the named week partitions of a published table (reasons as lists)."""
    values = [n.partition("=")[2] for n in names]
    df = read_table(path, columns=columns, filters=ds.field("week_start").isin(values))
    if "reasons" in df:
        df["reasons"] = [list(r) if r is not None else [] for r in df["reasons"]]
    return df


def publish_weeks(lake: Lake, name: str, scored: pd.DataFrame, scored_weeks, health: pd.DataFrame | None,
                  remark_weeks: set[str] | None) -> int:
    """Publish ``scored`` (the rescored weeks) into table ``name``, keeping its other weeks.

    Without ``scored_weeks`` (None) the table is ``scored`` alone. Otherwise the published weeks not
    rescored are hard-linked unchanged, except those in ``remark_weeks`` (ISO Mondays whose outages
    changed; None = all of them), which are read and marked again from ``health``. Returns the
    table's ``data_gap`` rows.
    """
    target = lake.gold(name)
    if scored_weeks is None:
        out = marked(scored, health)
        write_table(out, lake, "gold", name)
        return int(out["data_gap"].sum())
    rescored = {f"week_start={w}" for w in scored_weeks}
    others = {n: week_of_partition(n) for n in week_partitions(target) if n not in rescored}
    to_remark = [n for n, w in others.items() if remark_weeks is None or w is None or w.isoformat() in remark_weeks]
    keep = [n for n in others if n not in to_remark]
    frame = scored
    if to_remark:
        old = _read_partitions(target, to_remark)
        frame = finish(pd.concat([old.reindex(columns=RISK_SCORE_COLUMNS), scored], ignore_index=True))
    out = marked(frame, health)
    write_table(out, lake, "gold", name, keep=keep)
    kept_gaps = _read_partitions(target, keep, ["data_gap"])["data_gap"].sum() if keep else 0
    return int(out["data_gap"].sum() + kept_gaps)


def marked(scores: pd.DataFrame, health: pd.DataFrame | None) -> pd.DataFrame:
    """The frame as it is written: every week marked from the current gold/feed_health.

    All weeks, not only those scored in this run, so that the marks of kept weeks follow feed health too;
    :func:`mark_outages` first drops an earlier 数据中断 reason, so marking is idempotent.
    """
    return for_parquet(mark_outages(scores, health), RISK_SCORES_PUBLISHED)


def _marks(df: pd.DataFrame) -> list[tuple]:
    """(week, region, level, data_gap, reasons) per row, in a fixed order: what marking can change."""
    gap = df["data_gap"].fillna(False).astype(bool) if "data_gap" in df else pd.Series(None, index=df.index)
    rows = zip(pd.to_datetime(df["week_start"]).dt.date, df["region_code"].astype(str), df["level"].astype(str),
               gap, ([str(x) for x in r] if r is not None else [] for r in df["reasons"]))
    return sorted((w, c, lv, g, tuple(r)) for w, c, lv, g, r in rows)


def remark_scores(lake: Lake, inputs: dict, model_version) -> dict:
    """Only gold/feed_health changed: keep the published scores, redo their marks (no rescoring).

    A table is rewritten only when its marks change; the marker is then brought up to date, so the
    next run with the same inputs writes nothing.
    """
    health = read_feed_health(lake)
    summary: dict = {"model_version": model_version, "rescored": False, "remarked": []}
    for name in TABLES:
        old = read_published(lake, name)
        out = marked(finish(old.reindex(columns=RISK_SCORE_COLUMNS)), health)
        summary[f"{name}_data_gap_rows"] = int(out["data_gap"].sum())
        if "data_gap" in old and _marks(old) == _marks(out):
            continue
        write_table(out, lake, "gold", name)
        summary["remarked"].append(name)
    # Written after both tables: a run killed before this line marks again next time.
    write_inputs(lake.gold("risk_scores"), inputs)
    summary["changed"] = bool(summary["remarked"])
    return summary
