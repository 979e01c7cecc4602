"""gold/feed_health: outages and catch-ups per feed and county, and scores marked, not read as calm."""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fengqiao.lake import Lake, read_table, tree_fingerprint, write_table
from fengqiao.core.schemas import FEED_HEALTH, columns_of
from jobs.gold import feed_health as FH
from tiny_model import register_tiny_model

MONDAY = dt.date(2025, 1, 6)
COUNTIES = pd.DataFrame({"county_code": ["370102000000", "370103000000", "370104000000", "370105000000"],
                         "county_name": ["历下区", "市中区", "槐荫区", "天桥区"]})


def _daily(weeks=12, silent=(), burst=None, feed_down=(), seed=0):
    """Poisson daily counts per feed and county; ``silent``: (feed, county, week) with no records;
    ``burst``: (feed, county, week, factor); ``feed_down``: (feed, week) where every county collapses."""
    rng = np.random.default_rng(seed)
    rows = []
    for feed, rate in (("hotline", 30), ("workorders", 12), ("mediation", 6)):
        for county in COUNTIES["county_code"]:
            for w in range(weeks):
                for d in range(7):
                    lam = rate
                    if (feed, county, w) in silent or (feed, w) in feed_down:
                        continue
                    if burst and burst[:3] == (feed, county, w):
                        lam *= burst[3]
                    n = int(rng.poisson(lam))
                    if n:
                        rows.append((feed, county, MONDAY + dt.timedelta(days=7 * w + d), n))
    return pd.DataFrame(rows, columns=["feed", "county_code", "day", "records"])


def _status(health, feed, county, week):
    row = health[(health["feed"] == feed) & (health["county_code"] == county)
                 & (health["week_start"] == MONDAY + dt.timedelta(weeks=week))]
    assert len(row) == 1
    return row.iloc[0]


def test_silent_county_is_an_outage_and_its_return_a_catch_up():
    county = "370103000000"
    daily = _daily(silent={("hotline", county, 8), ("hotline", county, 9)}, burst=("hotline", county, 10, 2.5))
    health = FH.feed_health(daily, COUNTIES)
    assert list(health.columns) == columns_of(FEED_HEALTH)
    assert len(health) == 3 * 4 * 12  # every feed, county and week, silent ones included
    for week in (8, 9):
        row = _status(health, "hotline", county, week)
        assert row["status"] == "outage" and row["is_outage"] and row["status_zh"] == "中断"
        assert row["records"] == 0 and row["days_with_data"] == 0
    # Freshness: the last day with data stays the Sunday before the silence; the gap grows.
    assert _status(health, "hotline", county, 9)["last_data_date"] == MONDAY + dt.timedelta(weeks=8, days=-1)
    assert _status(health, "hotline", county, 8)["days_since_data"] == 7
    assert _status(health, "hotline", county, 9)["days_since_data"] == 14
    assert _status(health, "hotline", county, 10)["status"] == "catch_up"
    # The other counties and feeds that reported as usual are not flagged as outages.
    others = health[~((health["feed"] == "hotline") & (health["county_code"] == county))]
    assert not others["is_outage"].any()
    judged = health[health["status"] != "no_history"]
    assert (judged["status"] == "ok").sum() >= len(judged) - 4  # ordinary Poisson weeks: almost all ok


def test_every_county_down_is_a_feed_failure_not_a_county_outage():
    health = FH.feed_health(_daily(feed_down={("mediation", 9)}), COUNTIES)
    week9 = health[(health["feed"] == "mediation") & (health["week_start"] == MONDAY + dt.timedelta(weeks=9))]
    assert set(week9["status"]) == {"feed_down"} and not week9["is_outage"].any()


def test_first_weeks_have_no_history_and_a_partial_week_is_scaled():
    daily = _daily(weeks=10)
    through = MONDAY + dt.timedelta(weeks=9, days=2)  # Wednesday of the last week
    health = FH.feed_health(daily, COUNTIES, through=through)
    assert set(health.loc[health["week_start"] < MONDAY + dt.timedelta(weeks=3), "status"]) == {"no_history"}
    last = health[health["week_start"] == MONDAY + dt.timedelta(weeks=9)]
    assert not last["week_complete"].any()
    # three days of seven: compared with 3/7 of the usual week, so not "low"
    assert set(last["status"]) == {"ok"}, last[["feed", "county_code", "ratio", "status"]]
    assert last["ratio"].between(0.5, 1.6).all()


def test_mark_outages_keeps_scores_and_adds_the_reason():
    week = MONDAY + dt.timedelta(weeks=8)
    health = FH.feed_health(_daily(silent={("hotline", "370103000000", 8), ("workorders", "370103000000", 8)}),
                            COUNTIES)
    scores = pd.DataFrame({
        "region_code": ["370103001000", "370103000000", "370102001000", "370103001000"],
        "level": ["township", "county", "township", "township"],
        "week_start": [week, week, week, week - dt.timedelta(weeks=1)],
        "score": [0.01, 0.0, 0.3, 0.02], "county_code": ["370103000000", "370103000000", "370102000000",
                                                         "370103000000"],
        "reasons": [[], [], ["热线来电激增"], []],
    })
    marked = FH.mark_outages(scores, health)
    assert marked["data_gap"].tolist() == [True, True, False, False]
    assert marked["score"].tolist() == scores["score"].tolist()
    assert marked["reasons"].iloc[0] == ["数据中断：热线、工单数据本周缺失，评分可能偏低"]
    assert marked["reasons"].iloc[2] == ["热线来电激增"]
    again = FH.mark_outages(marked, health)  # idempotent: the reason is not added twice
    assert again["reasons"].tolist() == marked["reasons"].tolist()
    assert FH.mark_outages(scores, None)["data_gap"].sum() == 0


def _silver(lake: Lake, rows: dict):
    """Minimal silver tables (only the columns feed health reads) written as the lake's tables."""
    write_table(pd.DataFrame(rows["hotline"], columns=["county_code", "started_at", "week_start"]),
                lake, "silver", "hotline_calls")
    write_table(pd.DataFrame(rows["workorders"], columns=["county_code", "created_at", "week_start"]),
                lake, "silver", "work_orders")
    write_table(pd.DataFrame(rows["mediation"], columns=["county_code", "accepted_date", "week_start"]),
                lake, "silver", "mediation_cases")


def _regions_and_silver(lake: Lake, silent) -> pd.DataFrame:
    """regions.csv with the four counties and silver tables of six weeks, ``silent`` (feed, county, week)."""
    lake.reference.mkdir(parents=True, exist_ok=True)
    regions = ["code,name,level,parent_code,lat,lon,population"] + [
        f"{c},{n},county,370100000000,36.6,117.0," for c, n in zip(COUNTIES["county_code"], COUNTIES["county_name"])]
    (lake.reference / "regions.csv").write_text("\n".join(regions) + "\n", encoding="utf-8")
    daily = _daily(weeks=6, silent=set(silent))
    rows = {"hotline": [], "workorders": [], "mediation": []}
    for feed, county, day, n in daily.itertuples(index=False):
        # 23:30 Beijing time is the previous day in UTC: the day must be taken in Asia/Shanghai.
        ts = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 30)), tz="Asia/Shanghai").tz_convert("UTC")
        week = day - dt.timedelta(days=day.weekday())
        when = day if feed == "mediation" else ts
        rows[feed] += [(county, when, week)] * n
    _silver(lake, rows)
    return daily


def test_run_from_silver_publishes(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert "skipped" in FH.run(lake) and not lake.gold("feed_health").exists()  # nothing landed yet
    daily = _regions_and_silver(lake, {("hotline", "370105000000", 5)})
    counts = FH.daily_counts(lake)
    pd.testing.assert_frame_equal(
        counts.sort_values(["feed", "county_code", "day"], ignore_index=True),
        daily.sort_values(["feed", "county_code", "day"], ignore_index=True), check_dtype=False)

    summary = FH.run(lake)
    assert summary["outages"] == 1 and summary["latest_outages"] == ["hotline:370105000000"]
    table = read_table(lake.gold("feed_health"))
    assert sorted(table.columns) == sorted(columns_of(FEED_HEALTH))
    assert (lake.gold("feed_health") / "week_start=2025-02-10").is_dir()  # Hive-partitioned by week
    before = tree_fingerprint(lake.gold("feed_health"))
    assert FH.run(lake)["new_files"] == 0 and tree_fingerprint(lake.gold("feed_health")) == before


# --- the scoring job marks what it publishes -------------------------------------------------------

def _features(weeks=6, towns=2, seed=1) -> pd.DataFrame:
    """gold/region_week_features for the four counties (``towns`` townships each) with every feature column."""
    from features import FEATURE_COLUMNS

    rng = np.random.default_rng(seed)
    rows = []
    for county, name in zip(COUNTIES["county_code"], COUNTIES["county_name"]):
        codes = [(county, "county", name)] + [(f"{county[:6]}{t + 1:03d}000", "township", f"{name}{t + 1}镇")
                                               for t in range(towns)]
        for code, level, region_name in codes:
            for w in range(weeks):
                row = {"region_code": code, "level": level, "county_code": county,
                       "week_start": MONDAY + dt.timedelta(weeks=w), "region_name": region_name}
                row.update({c: float(rng.poisson(12)) for c in FEATURE_COLUMNS})
                rows.append(row)
    return pd.DataFrame(rows)


def _files(lake: Lake) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file of the two published scores tables (the inputs marker included)."""
    out = {}
    for name in ("risk_scores", "baseline_scores"):
        for path in sorted(lake.gold(name).rglob("*")):
            if path.is_file():
                out[path.relative_to(lake.root).as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def _gaps(lake: Lake, name: str) -> set[tuple[str, dt.date]]:
    df = read_table(lake.gold(name))
    assert df["data_gap"].dtype == bool
    return set(zip(df.loc[df["data_gap"], "region_code"], df.loc[df["data_gap"], "week_start"]))


def _frame(lake: Lake, name: str) -> pd.DataFrame:
    df = read_table(lake.gold(name))
    df["reasons"] = [list(r) for r in df["reasons"]]
    return df.sort_values(["week_start", "region_code"], ignore_index=True)


def _in_county(county: str, week: int, towns=2) -> set[tuple[str, dt.date]]:
    when = MONDAY + dt.timedelta(weeks=week)
    return {(county, when)} | {(f"{county[:6]}{t + 1:03d}000", when) for t in range(towns)}


def test_scoring_job_marks_outages_and_follows_feed_health(tmp_path):
    import shutil

    from fengqiao.core.schemas import RISK_SCORES_PUBLISHED
    from fengqiao.lake.markers import INPUTS_MARKER
    from jobs.gold import risk_scores as GRS

    lake, models = Lake(tmp_path / "lake"), tmp_path / "models"
    register_tiny_model(models, rows=300, iterations=10)
    write_table(_features(), lake, "gold", "region_week_features")
    first_outage = ("hotline", "370105000000", 5)
    _regions_and_silver(lake, {first_outage})
    assert FH.run(lake)["outages"] == 1

    # The scores written by the scoring job carry the marks: every region of the county, that week only.
    summary = GRS.run(lake, models, budget_share=0.05)
    expected = _in_county("370105000000", 5)
    assert summary["risk_scores_data_gap_rows"] == len(expected) == 3
    for name in ("risk_scores", "baseline_scores"):
        df = _frame(lake, name)
        assert sorted(read_table(lake.gold(name)).columns) == sorted(columns_of(RISK_SCORES_PUBLISHED))
        assert _gaps(lake, name) == expected
        gap_reasons = df.loc[df["data_gap"], "reasons"]
        assert all(r[-1] == "数据中断：热线数据本周缺失，评分可能偏低" for r in gap_reasons)
        assert not any(x.startswith("数据中断：") for r in df.loc[~df["data_gap"], "reasons"] for x in r)
    scores_before = _frame(lake, "risk_scores")[["week_start", "region_code", "score"]]

    # Nothing changed: nothing is written (same bytes, same mtimes, marker included).
    published = _files(lake)
    again = GRS.run(lake, models, budget_share=0.05)
    assert again["changed"] is False and again["new_files"] == 0
    assert _files(lake) == published

    # Only feed health changes (one more outage, in an earlier week): the marks follow, without rescoring.
    second_outage = ("workorders", "370102000000", 4)
    _regions_and_silver(lake, {first_outage, second_outage})
    assert FH.run(lake)["outages"] == 2
    remarked = GRS.run(lake, models, budget_share=0.05)
    assert remarked["changed"] is True and remarked["rescored"] is False
    assert sorted(remarked["remarked"]) == ["baseline_scores", "risk_scores"]
    for name in ("risk_scores", "baseline_scores"):
        assert _gaps(lake, name) == expected | _in_county("370102000000", 4)
    gap4 = _frame(lake, "risk_scores").query("region_code == '370102001000'")
    assert gap4["reasons"].iloc[4][-1] == "数据中断：工单数据本周缺失，评分可能偏低"
    pd.testing.assert_frame_equal(_frame(lake, "risk_scores")[["week_start", "region_code", "score"]],
                                  scores_before)  # the scores are kept
    # The same tables as a full rescoring from the same inputs would publish.
    fresh = Lake(tmp_path / "fresh")
    shutil.copytree(lake.root, fresh.root)
    (fresh.gold("risk_scores") / INPUTS_MARKER).unlink()
    assert "rescored" not in GRS.run(fresh, models, budget_share=0.05)
    for name in ("risk_scores", "baseline_scores"):
        pd.testing.assert_frame_equal(_frame(lake, name), _frame(fresh, name), obj=name)
    # ...and once marked, a run with nothing new writes nothing again.
    published = _files(lake)
    assert GRS.run(lake, models, budget_share=0.05)["changed"] is False
    assert _files(lake) == published

    # Scoring only the latest week keeps the earlier weeks, and their marks still follow feed health:
    # the second outage goes away, and its week (not rescored) loses its mark.
    _regions_and_silver(lake, {first_outage})
    assert FH.run(lake)["outages"] == 1
    latest = GRS.run(lake, models, weeks="latest", budget_share=0.05)
    assert latest["weeks_scored"] == 1 and latest["first_week"] == str(MONDAY + dt.timedelta(weeks=5))
    for name in ("risk_scores", "baseline_scores"):
        assert _gaps(lake, name) == expected
        assert read_table(lake.gold(name))["week_start"].nunique() == 6
    unmarked = _frame(lake, "risk_scores").query("data_gap == False")["reasons"]
    assert not any(x.startswith("数据中断：") for r in unmarked for x in r)  # the old reason is gone too


# --- planted outages of the simulator ----------------------------------------------------------------

def _raw_daily_counts(drop: Path) -> pd.DataFrame:
    """Daily counts per feed and county read straight from a simulated drop (no Spark, for speed):
    the newest version of each record, its own date, valid region codes only."""
    rows = []
    for path in sorted((drop / "hotline").glob("*/*.jsonl*")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                rows.append(("hotline", r.get("call_id"), r.get("region_code"), r.get("started_at")))
    for feed, cols in (("workorders", ["order_id", "region_code", "created_at"]),
                       ("mediation", ["案件编号", "行政区划代码", "受理日期"])):
        for path in sorted((drop / feed).glob("*/*.csv")):
            data = path.read_bytes()
            for encoding in ("utf-8", "gb18030"):
                try:
                    text = data.decode(encoding)
                    break
                except UnicodeDecodeError:
                    text = None
            if not text or not text.strip():
                continue
            df = pd.read_csv(io.StringIO(text), dtype=str, on_bad_lines="skip")
            if set(cols) <= set(df.columns):
                rows += [(feed, *r) for r in df[cols].itertuples(index=False)]
    df = pd.DataFrame(rows, columns=["feed", "id", "region_code", "when"]).dropna().drop_duplicates(["feed", "id"])
    df = df[df["region_code"].str.fullmatch(r"[0-9]{12}")]
    text = df["when"].str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "", regex=False).str.slice(0, 10)
    compact = text.str.fullmatch(r"[0-9]{8}")
    text = text.where(~compact, text.str.slice(0, 4) + "-" + text.str.slice(4, 6) + "-" + text.str.slice(6, 8))
    df["day"] = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").dt.date
    df = df.dropna(subset=["day"]).assign(county_code=lambda d: d["region_code"].str[:6] + "000000")
    return df.groupby(["feed", "county_code", "day"]).size().rename("records").reset_index()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from fengqiao.core.regions import read_regions
    from fengqiao.simulator import simulate

    out = []
    for seed in (11, 12):
        drop = tmp_path_factory.mktemp(f"sim{seed}")
        simulate(drop, seed=seed, scale="small", weeks=30)
        regions = read_regions(drop / "reference" / "regions.csv")
        counties = regions[regions["level"] == "county"].rename(columns={"code": "county_code", "name": "county_name"})
        episodes = pd.read_csv(drop / "truth" / "episodes.csv", dtype=str)
        details = pd.read_csv(drop / "truth" / "episode_details.csv", dtype=str)
        out.append((FH.feed_health(_raw_daily_counts(drop), counties), episodes.merge(details, on=["episode_id", "kind"])))
    return out


def test_planted_outages_are_detected_and_normal_weeks_not_flagged(simulated):
    planted = detected = caught_up = 0
    normal_weeks = false_flags = 0
    for health, episodes in simulated:
        outages = episodes[episodes["kind"] == "outage"]
        assert len(outages) >= 1
        affected = set()
        for ep in outages.itertuples(index=False):
            feed = dict(kv.split("=", 1) for kv in ep.detail.split(";"))["feed"]
            start, catch = dt.date.fromisoformat(ep.start_week), dt.date.fromisoformat(ep.peak_week)
            silent = health[(health["feed"] == feed) & (health["county_code"] == ep.region_code)
                            & (health["week_start"] >= start) & (health["week_start"] < catch)]
            planted += len(silent)
            detected += int(silent["is_outage"].sum())
            caught_up += int(_row(health, feed, ep.region_code, catch)["is_catch_up"])
            # the county's weeks from the silence to the catch-up, any feed (orders follow calls)
            affected |= {(ep.region_code, start + dt.timedelta(weeks=k)) for k in range((catch - start).days // 7 + 1)}
        judged = health[(health["status"] != "no_history")
                        & ~pd.Series(list(zip(health["county_code"], health["week_start"]))).isin(affected).to_numpy()]
        normal_weeks += len(judged)
        false_flags += int((judged["is_outage"] | judged["is_catch_up"]).sum())
    assert planted >= 2
    assert detected == planted, f"{detected}/{planted} silent weeks detected"
    assert caught_up == sum(len(e[e["kind"] == "outage"]) for _, e in simulated)
    assert false_flags <= 0.01 * normal_weeks, f"{false_flags} of {normal_weeks} normal feed-county-weeks flagged"


def _row(health, feed, county, week):
    row = health[(health["feed"] == feed) & (health["county_code"] == county) & (health["week_start"] == week)]
    assert len(row) == 1
    return row.iloc[0]
