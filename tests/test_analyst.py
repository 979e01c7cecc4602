"""Analysts query the lake's Parquet with DuckDB through `fengqiao query`."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from typer.testing import CliRunner

from fengqiao.analyst import connect
from fengqiao.cli import app
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


def test_query_command_prints_rows_and_reports_bad_sql(tmp_path):
    lake = _tiny_lake(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["query", "select region_code, score from risk_scores order by score desc", "--lake", str(lake.root)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.index("370102001000") < ok.output.index("370102002000")
    bad = runner.invoke(app, ["query", "select nope from risk_scores", "--lake", str(lake.root)])
    assert bad.exit_code == 2
    assert "query failed" in bad.output
