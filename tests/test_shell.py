"""`fengqiao shell`: SQL and dot commands over the lake's DuckDB views, fed from a text stream."""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from typer.testing import CliRunner

from fengqiao.cli import app
from fengqiao.lake import Lake, write_table
from fengqiao.shell import format_rows, run_shell


def _lake(tmp_path) -> Lake:
    lake = Lake.at(tmp_path / "lake")
    write_table(pd.DataFrame({
        "region_code": ["370102001000", "370102002000", "370102001000"],
        "level": ["township"] * 3,
        "week_start": [dt.date(2025, 3, 3), dt.date(2025, 3, 3), dt.date(2025, 3, 10)],
        "score": [0.7, 0.1, 0.4],
        "flagged": [True, False, True],
        "region_name": ["甲街道", "乙镇", "甲街道"],
    }), lake, "gold", "risk_scores")
    write_table(pd.DataFrame({"feed": ["hotline"], "reason": ["invalid_region_code | not 12 digits"]}),
                lake, "silver", "quarantine", partition_by=("feed",))
    return lake


def _run(lake: Lake, text: str) -> str:
    out = io.StringIO()
    assert run_shell(lake.root, stdin=io.StringIO(text), stdout=out) == 0
    return out.getvalue()


def test_tables_then_count_then_quit(tmp_path):
    out = _run(_lake(tmp_path), ".tables\nselect count(*) from risk_scores;\n.quit\n")
    lines = out.splitlines()
    assert any(line.startswith("risk_scores ") and line.rstrip().endswith("3") for line in lines), out
    assert any(line.startswith("quarantine ") for line in lines), out
    assert "count_star()" in out and "(1 row)" in out
    # the count's own row: a single cell holding 3
    assert [line.strip() for line in lines].count("3") == 1, out


def test_statements_span_lines_errors_do_not_stop_the_shell_and_quit_stops_it(tmp_path):
    out = _run(_lake(tmp_path), (
        "select region_name, score\n"
        "from risk_scores\n"
        "where flagged order by score desc;\n"
        "select nope from risk_scores;\n"
        "select 'still here' as msg;\n"
        ".quit\n"
        "select 'after quit' as msg;\n"
    ))
    assert out.index("0.7") < out.index("0.4")
    assert "甲街道" in out and "乙镇" not in out
    assert "error:" in out and "nope" in out
    assert "still here" in out
    assert "after quit" not in out


def test_schema_shows_types_and_meanings(tmp_path):
    out = _run(_lake(tmp_path), ".schema risk_scores\n.schema nowhere\n.schema\n.bogus\n")
    assert "week_start" in out and "DATE" in out
    assert "flagged" in out and "the region is alerted this week" in out
    assert "no table 'nowhere'" in out
    assert "usage: .schema TABLE" in out
    assert "unknown command .bogus" in out


def test_maxrows_limits_output_and_reports_the_total(tmp_path):
    out = _run(_lake(tmp_path), ".maxrows 2\nselect * from range(5);\n")
    assert "(5 rows, 2 shown)" in out


def test_last_statement_without_semicolon_runs_at_end_of_input(tmp_path):
    assert "42" in _run(_lake(tmp_path), "select 42 as answer")


def test_wide_characters_are_aligned():
    text = format_rows(["name", "n"], [("甲街道", 1), ("abc", 22)], max_rows=10)
    header, rule, first, second, footer = text.splitlines()
    # 甲街道 takes 6 terminal columns: "abc" is padded to 6, the header "name" too
    assert first == "甲街道 |  1" and second == "abc    | 22"
    assert footer == "(2 rows)"


def test_shell_command_reads_stdin(tmp_path):
    lake = _lake(tmp_path)
    result = CliRunner().invoke(app, ["shell", "--lake", str(lake.root)],
                                input=".tables\nselect count(*) from risk_scores;\n.quit\n")
    assert result.exit_code == 0, result.output
    assert "risk_scores" in result.output and "(1 row)" in result.output
    missing = CliRunner().invoke(app, ["shell", "--lake", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0
