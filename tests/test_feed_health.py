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
from fengqiao.schemas import FEED_HEALTH, columns_of
from jobs import gold_feed_health as FH

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


def test_run_from_silver_publishes_and_marks_scores(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert "skipped" in FH.run(lake) and not lake.gold("feed_health").exists()  # nothing landed yet
    lake.reference.mkdir(parents=True)
    regions = ["code,name,level,parent_code,lat,lon,population"] + [
        f"{c},{n},county,370100000000,36.6,117.0," for c, n in zip(COUNTIES["county_code"], COUNTIES["county_name"])]
    (lake.reference / "regions.csv").write_text("\n".join(regions) + "\n", encoding="utf-8")
    daily = _daily(weeks=6, silent={("hotline", "370105000000", 5)})
    rows = {"hotline": [], "workorders": [], "mediation": []}
    for feed, county, day, n in daily.itertuples(index=False):
        # 23:30 Beijing time is the previous day in UTC: the day must be taken in Asia/Shanghai.
        ts = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 30)), tz="Asia/Shanghai").tz_convert("UTC")
        week = day - dt.timedelta(days=day.weekday())
        when = day if feed == "mediation" else ts
        rows[feed] += [(county, when, week)] * n
    _silver(lake, rows)
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

    week = MONDAY + dt.timedelta(weeks=5)
    scores = pd.DataFrame({"region_code": ["370105001000", "370102001000"], "level": "township",
                           "week_start": [week, week], "score": [0.1, 0.2], "risk_level": [None, "蓝"],
                           "flagged": [False, True], "model_version": "m", "reasons": [[], ["x"]],
                           "county_code": ["370105000000", "370102000000"], "region_name": ["a", "b"],
                           "rank_in_week": pd.array([2, 1], dtype="Int32")})
    write_table(scores, lake, "gold", "risk_scores")
    (lake.gold("risk_scores") / "_inputs.json").write_text('{"k": 1}', encoding="utf-8")
    assert FH.mark_published_scores(lake)["risk_scores_data_gap_rows"] == 1
    published = read_table(lake.gold("risk_scores")).sort_values("region_code")
    assert published["data_gap"].tolist() == [False, True]
    assert list(published["reasons"].iloc[1]) == ["数据中断：热线数据本周缺失，评分可能偏低"]
    assert (lake.gold("risk_scores") / "_inputs.json").read_text(encoding="utf-8") == '{"k": 1}'
    marked = tree_fingerprint(lake.gold("risk_scores"))
    FH.mark_published_scores(lake)  # nothing changed: nothing rewritten
    assert tree_fingerprint(lake.gold("risk_scores")) == marked


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
    from fengqiao.regions import read_regions
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
