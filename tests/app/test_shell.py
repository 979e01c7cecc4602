"""`fengqiao shell`: SQL and dot commands over the lake's DuckDB views, fed from a text stream."""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from typer.testing import CliRunner

from fengqiao.app.analyst import STEWARD, Access
from fengqiao.app.cli import app
from fengqiao.lake import Lake, write_table
from fengqiao.app.shell import format_rows, run_shell


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


def _run(lake: Lake, text: str, access: Access | None = None) -> str:
    out = io.StringIO()
    assert run_shell(lake.root, stdin=io.StringIO(text), stdout=out, access=access) == 0
    return out.getvalue()


def test_tables_then_count_then_quit(tmp_path):
    out = _run(_lake(tmp_path), ".tables\nselect count(*) from risk_scores;\n.quit\n")
    lines = out.splitlines()
    assert any(line.startswith("risk_scores ") and line.rstrip().endswith("3") for line in lines), out
    assert not any(line.startswith("quarantine ") for line in lines), out  # silver: the steward's
    assert "count_star()" in out and "(1 row)" in out
    # the count's own row: a single cell holding 3
    assert [line.strip() for line in lines].count("3") == 1, out


def test_steward_lists_silver_tables(tmp_path):
    out = _run(_lake(tmp_path), ".tables\n", access=Access(STEWARD))
    assert any(line.startswith("quarantine ") and line.rstrip().endswith("1") for line in out.splitlines()), out


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
    assert "LINE 1" not in out  # one line per error
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


class _Republishing(io.StringIO):
    """Input that publishes a new version of risk_scores (as a pipeline run would) before its second line."""

    def __init__(self, text: str, lake: Lake):
        super().__init__(text)
        self.lake, self.lines_read = lake, 0

    def readline(self, *args):
        self.lines_read += 1
        if self.lines_read == 2:
            write_table(pd.DataFrame({"region_code": ["370102001000"], "level": ["township"],
                                      "week_start": [dt.date(2025, 3, 17)], "score": [0.9], "flagged": [True]}),
                        self.lake, "gold", "risk_scores")
        return super().readline(*args)


def test_a_session_reads_tables_republished_while_it_is_open(tmp_path):
    lake = _lake(tmp_path)
    out = io.StringIO()
    text = "select count(*) as n, max(week_start) as last from risk_scores;\n" * 2
    assert run_shell(lake.root, stdin=_Republishing(text, lake), stdout=out) == 0
    first, second = [block for block in out.getvalue().split("(1 row)") if block.strip()]
    assert "2025-03-10" in first and "3" in first
    assert "2025-03-17" in second and "error" not in second, out.getvalue()


def test_a_table_unreadable_mid_session_is_an_error_line_not_the_end(tmp_path):
    lake = _lake(tmp_path)

    class Corrupting(io.StringIO):
        def readline(self, *args):
            line = super().readline(*args)
            if line.startswith("select 2"):  # a new file that is no Parquet appears before the statement runs
                (lake.root / "gold" / "risk_scores" / "week_start=2025-03-17").mkdir()
                (lake.root / "gold" / "risk_scores" / "week_start=2025-03-17" / "part-0.parquet").write_bytes(b"x")
            return line

    out = io.StringIO()
    text = "select 1 as one;\nselect 2 as two;\n.tables\n"
    assert run_shell(lake.root, stdin=Corrupting(text), stdout=out) == 0
    errors = [line for line in out.getvalue().splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and all("cannot read the lake's tables" in e for e in errors), out.getvalue()
    assert "one" in out.getvalue()
