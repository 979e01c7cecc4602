"""The analysts' commands: ``fengqiao query`` (one SQL statement) and ``fengqiao shell`` (interactive),
over the tables the analyst's role may read (fengqiao.app.analyst)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fengqiao.app.analyst import AccessError, access_for, connect, explain_error, table_names
from fengqiao.app.cli_options import echo
from fengqiao.app.shell import run_shell

ROLE_HELP = ("province (default: every gold table, every region), county (gold rows of --county) or steward "
             "(gold and masked silver); see docs/example-questions.md.")
COUNTY_HELP = "6-digit code of the county analyst's county, e.g. 370102 (implies --role county)."


def analyst_access(lake: Path, role: Optional[str], county: Optional[str]):
    """The role asked for, or one line and exit code 2 when it cannot be granted."""
    if not (lake / "gold").is_dir() and not (lake / "silver").is_dir():
        echo(f"no lake at {lake}: it holds neither gold/ nor silver/ (`fengqiao run --lake {lake}` builds one)")
        raise typer.Exit(code=2)
    try:
        return access_for(role, county, lake)
    except AccessError as exc:
        echo(f"access refused: {exc}")
        raise typer.Exit(code=2)


def query(
    sql: str = typer.Argument(..., help="SQL over the role's tables, e.g. \"select * from risk_scores limit 5\"."),
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    max_rows: int = typer.Option(50, help="Rows to print at most."),
    role: Optional[str] = typer.Option(None, "--role", help=ROLE_HELP),
    county: Optional[str] = typer.Option(None, "--county", help=COUNTY_HELP),
) -> None:
    """Query the lake's Parquet with DuckDB: each table the role may read is a view of its name; files,
    extensions, settings and other tables are out of reach."""
    access = analyst_access(lake, role, county)
    try:
        con = connect(lake, access)
    except Exception as exc:  # an unreadable Parquet file of the lake (pyarrow and OS errors)
        echo(f"cannot read the lake's tables: {explain_error(exc, access)}")
        raise typer.Exit(code=1)
    try:
        result = con.sql(sql)
        frame = None if result is None else result.fetchdf()
    except Exception as exc:  # duckdb raises several error types; all are the user's SQL
        echo(f"query failed: {explain_error(exc, access, table_names(con))}")
        raise typer.Exit(code=2)
    if frame is None:
        return
    import pandas as pd  # only to print a result: pandas takes longer to import than `fengqiao --help` runs

    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.unicode.east_asian_width", True):
        echo(frame.head(max_rows).to_string(index=False))
    if len(frame) > max_rows:
        echo(f"… {len(frame)} rows, {max_rows} shown")


def shell(
    lake: Path = typer.Option(..., "--lake", help="Lake folder."),
    role: Optional[str] = typer.Option(None, "--role", help=ROLE_HELP),
    county: Optional[str] = typer.Option(None, "--county", help=COUNTY_HELP),
) -> None:
    """Interactive SQL over the role's tables (DuckDB): end SQL with ';', .tables, .schema T, .quit."""
    code = run_shell(lake, access=analyst_access(lake, role, county))
    if code:
        raise typer.Exit(code=code)
