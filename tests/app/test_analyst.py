"""Analysts query the lake's Parquet with DuckDB through `fengqiao query`."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fengqiao.app.analyst import PROVINCE, STEWARD, connect
from fengqiao.app.cli import app
from fengqiao.lake import Lake, write_table


def _tiny_lake(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    scores = pd.DataFrame({
        "region_code": ["370102001000", "370102002000", "370102001000"],
        "level": ["township"] * 3,
        "week_start": [dt.date(2025, 3, 3), dt.date(2025, 3, 3), dt.date(2025, 3, 10)],
        "score": [0.7, 0.1, 0.4],
        "flagged": [True, False, True],
    })
    write_table(scores, lake, "gold", "risk_scores")
    return lake


def test_views_expose_partition_columns(tmp_path):
    con = connect(_tiny_lake(tmp_path).root)
    rows = con.sql("select week_start, count(*) n from risk_scores where flagged group by 1 order by 1").fetchall()
    assert [(str(w), n) for w, n in rows] == [("2025-03-03", 1), ("2025-03-10", 1)]


def test_views_read_a_lake_whose_path_holds_glob_characters(tmp_path):
    """DuckDB expands ``[ * ?`` in a pattern: ``lake[prod]`` would match no file, ``lake*`` another lake too."""
    decoy = pd.DataFrame({"region_code": ["370102001000"], "level": ["township"], "week_start": [dt.date(2025, 3, 3)],
                          "score": [0.9], "flagged": [True]})
    write_table(decoy, Lake.at(tmp_path / "lakep*?" / "lake"), "gold", "risk_scores")  # what lake[prod]*? matches as a pattern
    con = connect(_tiny_lake(tmp_path / "lake[prod]*?").root)
    rows = con.sql("select week_start, count(*) n from risk_scores where flagged group by 1 order by 1").fetchall()
    assert [(str(w), n) for w, n in rows] == [("2025-03-03", 1), ("2025-03-10", 1)]


def test_query_command_prints_rows_and_reports_bad_sql(tmp_path):
    lake = _tiny_lake(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["query", "select region_code, score from risk_scores order by score desc", "--lake", str(lake.root)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.index("370102001000") < ok.output.index("370102002000")
    bad = runner.invoke(app, ["query", "select nope from risk_scores", "--lake", str(lake.root)])
    assert bad.exit_code == 2
    assert "query failed" in bad.output


# --- a tiny lake with every silver and gold table, real column names and types ------------------------
TOWNSHIPS = {"370102001000": "甲街道", "370102002000": "乙镇"}
COUNTY, COUNTY_NAME = "370102000000", "历下区"
WEEKS = [dt.date(2025, 1, 6) + dt.timedelta(weeks=i) for i in range(10)]


def _defaults(schema, n: int, **overrides) -> pd.DataFrame:
    """``n`` rows with a plausible value of each column's type; ``overrides`` are lists of n values."""
    import numpy as np

    base = pd.Timestamp("2025-01-06 01:30:00")
    by_type = {
        "string": lambda name, i: f"{name}-{i}",
        "timestamp": lambda name, i: base + pd.Timedelta(hours=7 * i),
        "date": lambda name, i: WEEKS[i % len(WEEKS)],
        "int": lambda name, i: i % 5 + 1,
        "bigint": lambda name, i: i % 7,
        "double": lambda name, i: round((i % 10) / 10, 2),
        "boolean": lambda name, i: i % 3 == 0,
        "array<string>": lambda name, i: ["原因"],
    }
    data = {}
    for field in schema.fields:
        if field.name in overrides:
            data[field.name] = list(overrides[field.name])
        else:
            make = by_type[field.dataType.simpleString()]
            data[field.name] = [make(field.name, i) for i in range(n)]
    df = pd.DataFrame(data)
    for field in schema.fields:
        kind = field.dataType.simpleString()
        if kind == "int":
            df[field.name] = df[field.name].astype("int32")
        elif kind == "array<string>":
            df[field.name] = [np.array(v, dtype=str) for v in df[field.name]]
    return df


def _full_tiny_lake(root) -> Lake:
    """Every table of the data dictionary, a few rows each, written the way the pipeline writes it."""
    from fengqiao.core import schemas
    from fengqiao.app.datadict import table_schemas

    lake = Lake.at(root)
    types = table_schemas()
    regions = ([(code, "township", name) for code, name in TOWNSHIPS.items()] + [(COUNTY, "county", COUNTY_NAME)]
               + [("370100000000", "city", "济南市")])
    grid = [(code, level, name, week) for week in WEEKS for code, level, name in regions]
    n = len(grid)
    wage = {"370102001000": [1, 1, 1, 1, 1, 1, 3, 3, 4, 4], "370102002000": [2] * 10, COUNTY: [3] * 6 + [5] * 4,
            "370100000000": [3] * 6 + [5] * 4}
    features = _defaults(
        types["region_week_features"], n,
        region_code=[g[0] for g in grid], level=[g[1] for g in grid], county_code=[COUNTY] * n,
        region_name=[g[2] for g in grid], week_start=[g[3] for g in grid],
        wage_arrears=[wage[g[0]][WEEKS.index(g[3])] for g in grid],
        repeat_caller_share=[0.1 * (i % 4) for i in range(n)],
        # 甲街道: cases passed on by the petition office rise in the last four weeks
        referral_cases=[2 * (WEEKS.index(g[3]) >= 6) if g[0] == "370102001000" else 0 for g in grid],
        petition_referral_cases=[2 * (WEEKS.index(g[3]) >= 6) if g[0] == "370102001000" else 0 for g in grid],
    )
    write_table(features, lake, "gold", "region_week_features")

    town_rows = [i for i, g in enumerate(grid) if g[1] == "township"]
    flagged = [g[0] == "370102001000" or g[1] == "county" for g in grid]
    scores = _defaults(
        types["risk_scores"], n,
        region_code=[g[0] for g in grid], level=[g[1] for g in grid], week_start=[g[3] for g in grid],
        score=[0.6 if f else 0.05 for f in flagged], risk_level=["红" if f else None for f in flagged],
        flagged=flagged, model_version=["escalation-test"] * n,
        reasons=[["欠薪类纠纷上升"] if f else [] for f in flagged], county_code=[COUNTY] * n,
        region_name=[g[2] for g in grid], rank_in_week=[1 if f else 2 for f in flagged],
    )
    write_table(scores, lake, "gold", "risk_scores")
    baseline = scores.assign(flagged=[g[0] == "370102002000" or g[1] == "county" for g in grid],
                             model_version="ears-c2")
    write_table(baseline, lake, "gold", "baseline_scores")
    assert town_rows

    alerts = pd.DataFrame({
        "alert_id": ["AAAA-BBBB-CCCC-DDDD-EEEE", "FFFF-0000-1111-2222-3333"],
        "region_code": ["370102001000", COUNTY],
        "week_start": [WEEKS[-1]] * 2,
        "risk_level": ["红", "红"],
        "recipient_unit": ["甲街道司法所", "历下区司法局"],
        "channel": ["email"] * 2,
        "sent_at": pd.to_datetime(["2025-03-17 01:00:00", "2025-03-17 01:00:01"], utc=True),
        "status": ["sent", "sent"],
        "recipient_address": ["sfs@example.cn", "sfj@example.cn"],
        "detail": [None, None],  # all null, as after a run without failures
        "ack_ref": ["kQ3v9yXb2LmN8pRt4WcZ1a", "Hs7dF2gJ5kL9qW3eR6tY8u"],
    })
    assert list(alerts.columns) == [f.name for f in schemas.ALERTS.fields]
    write_table(alerts, lake, "gold", "alerts")

    k = 24
    codes = [list(TOWNSHIPS)[i % 2] for i in range(k)]
    calls = _defaults(
        schemas.HOTLINE_CALLS, k, region_code=codes, township_code=codes, county_code=[COUNTY] * k,
        request_type=["投诉", "咨询"] * (k // 2), dispute_type=["劳动争议", "邻里", "合同"] * (k // 3),
        started_at=[pd.Timestamp("2025-01-05 17:00:00") + pd.Timedelta(days=3 * i) for i in range(k)],
        week_start=[WEEKS[min(i * 3 // 7, 9)] for i in range(k)],
    )
    write_table(calls, lake, "silver", "hotline_calls")
    orders = _defaults(schemas.WORK_ORDERS, k, region_code=codes, township_code=codes, county_code=[COUNTY] * k,
                       status=["办结", "办理中", "退回"] * (k // 3), urgency=["一般", "紧急"] * (k // 2))
    write_table(orders, lake, "silver", "work_orders")
    cases = _defaults(
        schemas.MEDIATION_CASES, k, region_code=codes, township_code=codes, county_code=[COUNTY] * k,
        dispute_type=["劳动争议", "邻里", "合同"] * (k // 3), accepted_date=[WEEKS[i % 10] for i in range(k)],
        result=["调解成功", "调解不成功", "调解中", "终止"] * (k // 4),
        amount_yuan=[1000.0 * (i + 1) for i in range(k)],
    )
    write_table(cases, lake, "silver", "mediation_cases")
    quarantine = _defaults(
        schemas.QUARANTINE, 6, feed=["hotline", "hotline", "workorders", "mediation", "mediation", "mediation"],
        reason=["invalid_region_code | region code is not 12 digits",
                "malformed_record | the record cannot be parsed"] * 3,
        line_no=[3, 7, 2, 5, 9, 11],
    )
    write_table(quarantine, lake, "silver", "quarantine", partition_by=("feed",))
    towns = list(TOWNSHIPS)
    hotspots = _defaults(
        schemas.HOTSPOT_PATTERNS, 2, region_code=towns[:2], level=["township"] * 2, county_code=[COUNTY] * 2,
        region_name=[TOWNSHIPS[c] for c in towns[:2]], week_start=[WEEKS[-1]] * 2,
        category=["new_hot_spot", "no_pattern"], category_zh=["新增热点", "无明显模式"], value=["rate"] * 2,
    )
    write_table(hotspots, lake, "gold", "hotspot_patterns")
    dispositions = _defaults(
        schemas.ALERT_DISPOSITIONS, 1, alert_id=["AAAA-BBBB-CCCC-DDDD-EEEE"], region_code=["370102001000"],
        week_start=[WEEKS[-1]], disposition=["handled"], disposition_zh=["已处置"], received_via=["file"],
        disposed_at=pd.to_datetime(["2025-03-18 09:00:00"], utc=True),
        received_at=pd.to_datetime(["2025-03-18 10:00:00"], utc=True),
    )
    write_table(dispositions, lake, "gold", "alert_dispositions")
    feeds = ["hotline", "workorders", "mediation"]
    health = _defaults(
        schemas.FEED_HEALTH, 6, feed=feeds * 2, feed_zh=["热线", "工单", "人民调解"] * 2, county_code=[COUNTY] * 6,
        county_name=[COUNTY_NAME] * 6, week_start=[WEEKS[-2]] * 3 + [WEEKS[-1]] * 3,
        status=["ok", "ok", "ok", "outage", "ok", "ok"], status_zh=["正常", "正常", "正常", "中断", "正常", "正常"],
        is_outage=[False, False, False, True, False, False], is_catch_up=[False] * 6,
    )
    write_table(health, lake, "gold", "feed_health")
    return lake


DEMO_LAKE = Path(__file__).resolve().parents[2] / "var" / "demo" / "lake"


def test_tiny_lake_has_every_documented_table_with_its_columns(tmp_path):
    """The steward sees every documented table and column but the quarantine's raw lines."""
    from fengqiao.app.analyst import HIDDEN_COLUMNS
    from fengqiao.core.column_docs import COLUMN_DOCS

    con = connect(_full_tiny_lake(tmp_path / "lake").root, STEWARD)
    views = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
    assert views == set(COLUMN_DOCS)
    for table, docs in COLUMN_DOCS.items():
        expected = set(docs) - set(HIDDEN_COLUMNS.get(table, ()))
        assert {r[0] for r in con.sql(f"describe {table}").fetchall()} == expected, table


def _run_examples(lake_root) -> dict[str, int]:
    """Rows of each example, run as the role it names (else the province analyst)."""
    from fengqiao.app.example_queries import EXAMPLE_QUERIES

    connections = {role: connect(lake_root, role) for role in (PROVINCE, STEWARD)}
    rows = {}
    for q in EXAMPLE_QUERIES:
        try:
            rows[q["title_en"]] = len(connections[q.get("role", PROVINCE)].sql(q["sql"]).fetchall())
        except Exception as exc:  # report which question broke, with DuckDB's message
            raise AssertionError(f"example {q['title_en']!r} failed: {exc}") from exc
    return rows


def test_example_queries_run_on_a_tiny_lake(tmp_path):
    rows = _run_examples(_full_tiny_lake(tmp_path / "lake").root)
    empty = [title for title, n in rows.items() if n == 0]
    assert not empty, f"examples with no rows on the tiny lake: {empty}"


def test_examples_marked_for_the_steward_need_silver(tmp_path):
    """An example marked ``steward`` fails for the province analyst (a silver table is not there)."""
    import duckdb

    from fengqiao.app.example_queries import EXAMPLE_QUERIES

    con = connect(_full_tiny_lake(tmp_path / "lake").root, PROVINCE)
    marked = [q for q in EXAMPLE_QUERIES if q.get("role") == STEWARD]
    assert marked
    for q in marked:
        with pytest.raises(duckdb.CatalogException):
            con.sql(q["sql"]).fetchall()


def test_example_queries_run_on_the_demo_lake():
    if not (DEMO_LAKE / "gold" / "risk_scores").is_dir():
        pytest.skip("no demo lake (make demo builds var/demo/lake)")
    rows = _run_examples(DEMO_LAKE)  # DuckDB only reads the Parquet: the demo lake is not modified
    assert rows


def test_spark_views_cover_every_table_with_published_types(spark, tmp_path):
    from pyspark.sql import types as T

    from fengqiao.app.analyst import register_spark_views

    lake = _full_tiny_lake(tmp_path / "lake [a]{b}")  # Spark expands glob characters in the paths it reads
    names = register_spark_views(spark, lake.root)
    assert names == sorted(["alert_dispositions", "alerts", "baseline_scores", "feed_health", "hotline_calls", "hotspot_patterns",
                            "mediation_cases", "quarantine", "region_week_features", "risk_scores", "work_orders"])
    flagged = spark.sql("select week_start, count(*) n from risk_scores where flagged and level = 'township' "
                        "group by week_start order by week_start").collect()
    assert [(r["week_start"], r["n"]) for r in flagged] == [(w, 1) for w in WEEKS]
    alerts = spark.table("alerts")
    assert isinstance(alerts.schema["sent_at"].dataType, T.TimestampType)
    assert isinstance(alerts.schema["detail"].dataType, T.StringType)
    assert isinstance(alerts.schema["week_start"].dataType, T.DateType)
    sent = spark.sql("select min(sent_at) t from alerts").first()["t"]
    assert sent is not None
    feeds = {r["feed"]: r["n"] for r in spark.sql("select feed, count(*) n from quarantine group by feed").collect()}
    assert feeds == {"hotline": 2, "workorders": 1, "mediation": 3}
    assert spark.table("region_week_features").schema["wage_arrears"].dataType == T.LongType()


def test_spark_written_instants_read_in_beijing_time(spark, tmp_path):
    """Silver instants written by Spark are time-zone-aware in DuckDB and shown in Asia/Shanghai."""
    import datetime as dt

    lake_dir = tmp_path / "lake"
    utc = dt.timezone.utc
    df = spark.createDataFrame([("c1", dt.datetime(2024, 11, 4, 16, 15, tzinfo=utc))], "call_id string, started_at timestamp")
    df.write.parquet(str(lake_dir / "silver" / "hotline_calls"))
    con = connect(lake_dir, STEWARD)
    typ = con.execute("select typeof(started_at) from hotline_calls").fetchone()[0]
    assert typ == "TIMESTAMP WITH TIME ZONE"
    shown = con.execute("select strftime(started_at, '%Y-%m-%d %H:%M') from hotline_calls").fetchone()[0]
    assert shown == "2024-11-05 00:15"


def test_an_unreadable_table_file_is_one_line_not_a_traceback(tmp_path):
    lake = _tiny_lake(tmp_path)
    next((lake.root / "gold" / "risk_scores").rglob("*.parquet")).write_bytes(b"PAR1 cut short")
    runner = CliRunner()
    for args in (["query", "select 1"], ["shell"]):
        result = runner.invoke(app, [*args, "--lake", str(lake.root)], input=".quit\n")
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "cannot read the lake's tables" in lines[0], result.output
