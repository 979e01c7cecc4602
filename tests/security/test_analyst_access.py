"""Analysts' roles hold: every way out of a role's tables fails with a clear error, in Python and the CLI.

The lake is the outputs' tiny lake (two counties, quarantine lines with planted personal data) plus a bronze
file, a silver table, gold tables cut by ``region_code`` only (alerts) and by ``county_code`` only (feed health),
and a gold table without region codes. No Spark.
"""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest
from outputs_lake import LIXIA, PLANTED_PERSONAL, SHIZHONG, WEEK, build_tiny_lake
from typer.testing import CliRunner

from fengqiao.app.analyst import COUNTY, PROVINCE, STEWARD, Access, AccessError, access_for, connect
from fengqiao.app.cli import app
from fengqiao.lake import write_table

LIXIA6, SHIZHONG6 = LIXIA[:6], SHIZHONG[:6]
ROLES = {PROVINCE: Access(PROVINCE), COUNTY: Access(COUNTY, LIXIA6), STEWARD: Access(STEWARD)}
SECRET = "FENGQIAO_TEST_SECRET_7f3a"  # in the process environment while the tests run


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = build_tiny_lake(tmp_path_factory.mktemp("access") / "lake")
    raw = lake.bronze("hotline") / "2025-03-18" / "calls-001.jsonl"
    raw.parent.mkdir(parents=True)
    raw.write_text('{"caller_name": "%s", "caller_phone": "%s"}\n' % tuple(PLANTED_PERSONAL[:2]), encoding="utf-8")
    write_table(pd.DataFrame({"call_id": ["c1", "c2"], "region_code": [LIXIA, SHIZHONG],
                              "county_code": [LIXIA, SHIZHONG], "week_start": [WEEK, WEEK]}),
                lake, "silver", "hotline_calls")
    write_table(pd.DataFrame({"alert_id": ["A1", "A2", "A3"],
                              "region_code": [LIXIA[:9] + "001000", SHIZHONG[:9] + "002000", SHIZHONG],
                              "week_start": [WEEK] * 3, "status": ["sent"] * 3}), lake, "gold", "alerts")
    write_table(pd.DataFrame({"feed": ["hotline"] * 2, "county_code": [LIXIA, SHIZHONG], "week_start": [WEEK] * 2,
                              "records": [10, 20]}), lake, "gold", "feed_health")
    write_table(pd.DataFrame({"week_start": [WEEK], "total_contacts": [99]}), lake, "gold", "province_totals")
    # Not tables: the silver jobs' ledger and Spark's marker beside the Parquet, an interrupted publish's copy.
    (lake.root / "silver" / "hotline_calls" / "_merged_files.pq").write_bytes(b"not parquet")
    (lake.root / "silver" / "hotline_calls" / "_SUCCESS").touch()
    shutil.copytree(lake.root / "gold" / "risk_scores", lake.root / "gold" / "risk_scores.previous")
    models = lake.root.parent / "models"
    models.mkdir()
    (models / "registry.json").write_text('{"current": "escalation-h4"}', encoding="utf-8")
    return lake


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch):
    monkeypatch.setenv("FENGQIAO_TEST_SECRET", SECRET)


def _parquet_file(lake, layer: str, table: str) -> str:
    return str(next((lake.root / layer / table).rglob("*.parquet")))


def _escapes(lake, tmp_path) -> dict[str, str]:
    """Statements that reach past a role's tables, by what they try."""
    root = lake.root
    raw = root / "bronze" / "hotline" / "2025-03-18" / "calls-001.jsonl"
    return {
        "process environment": "select * from read_text('/proc/self/environ')",
        "bronze as text": f"select * from read_text('{raw}')",
        "bronze as csv": f"select * from read_csv('{raw}', header = false)",
        "bronze manifest": f"select * from read_parquet('{root / 'bronze' / '_manifest.parquet'}')",
        "silver file": f"select * from read_parquet('{_parquet_file(lake, 'silver', 'hotline_calls')}')",
        "quarantine raw lines": f"select raw_masked from read_parquet('{_parquet_file(lake, 'silver', 'quarantine')}')",
        "gold glob": f"select count(*) from read_parquet('{root}/gold/**/*.parquet', hive_partitioning = true)",
        "lake glob": f"select * from glob('{root}/**')",
        "model registry": f"select * from read_blob('{root.parent / 'models' / 'registry.json'}')",
        "copy to a file": f"copy (select * from risk_scores) to '{tmp_path / 'x.csv'}'",
        "copy into the lake": f"copy (select 1 as a) to '{root / 'gold' / 'risk_scores' / 'extra.parquet'}'",
        "attach a file": f"attach '{tmp_path / 'x.duckdb'}' as other",
        "install httpfs": "install httpfs",
        "load httpfs": "load httpfs",
        "enable external access": "set enable_external_access = true",
        "reset external access": "reset enable_external_access",
        "allow a directory": f"set allowed_directories = ['{root}']",
        "unlock": "set lock_configuration = false",
    }


@pytest.mark.parametrize("role", list(ROLES))
def test_every_escape_fails_for_every_role_and_writes_nothing(lake, tmp_path, role):
    con = connect(lake.root, ROLES[role])
    for what, sql in _escapes(lake, tmp_path).items():
        with pytest.raises((duckdb.PermissionException, duckdb.InvalidInputException)) as refused:
            con.sql(sql).fetchall()
        message = str(refused.value)
        assert ("disabled" in message or "locked" in message), (what, message)
        assert SECRET not in message and not any(p in message for p in PLANTED_PERSONAL), what
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.duckdb").exists()
    assert not (lake.root / "gold" / "risk_scores" / "extra.parquet").exists()
    # refused statements change nothing: the role's tables still answer
    assert con.sql("select count(*) from risk_scores").fetchall()[0][0] > 0


def test_roles_see_only_their_tables(lake):
    def tables(access):
        con = connect(lake.root, access)
        return {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}

    gold = {"region_week_features", "risk_scores", "alerts", "feed_health", "province_totals"}
    assert tables(ROLES[PROVINCE]) == gold
    assert tables(ROLES[STEWARD]) == gold | {"quarantine", "hotline_calls"}
    assert tables(ROLES[COUNTY]) == gold - {"province_totals"}  # no region code: cannot be cut to a county


def test_steward_reads_the_quarantine_without_its_raw_lines(lake):
    con = connect(lake.root, ROLES[STEWARD])
    columns = [r[0] for r in con.sql("describe quarantine").fetchall()]
    assert "raw_masked" not in columns and {"feed", "reason", "source_file", "line_no"} <= set(columns)
    rows = con.sql("select * from quarantine").fetchall()
    assert len(rows) == 4
    assert not any(p in str(rows) for p in PLANTED_PERSONAL)
    with pytest.raises(duckdb.BinderException):
        con.sql("select raw_masked from quarantine").fetchall()


def test_province_analyst_reads_no_silver_table(lake):
    con = connect(lake.root)  # the default role
    for table in ("hotline_calls", "quarantine"):
        with pytest.raises(duckdb.CatalogException):
            con.sql(f"select * from {table}").fetchall()
    assert {r[0] for r in con.sql("select distinct county_code from risk_scores").fetchall()} == {LIXIA, SHIZHONG}


@pytest.mark.parametrize("table, column", [("risk_scores", "county_code"), ("region_week_features", "county_code"),
                                           ("feed_health", "county_code"), ("alerts", "region_code")])
def test_county_analyst_reads_only_the_county_rows(lake, table, column):
    con = connect(lake.root, ROLES[COUNTY])
    codes = {r[0] for r in con.sql(f"select distinct {column} from {table}").fetchall()}
    assert codes and all(code.startswith(LIXIA6) for code in codes), codes
    other = con.sql(f"select count(*) from {table} where {column} like '{SHIZHONG6}%'").fetchall()[0][0]
    assert other == 0
    # the other county's analyst sees the rows this one does not
    others = connect(lake.root, Access(COUNTY, SHIZHONG6))
    assert others.sql(f"select count(*) from {table} where {column} like '{SHIZHONG6}%'").fetchall()[0][0] > 0


def test_county_analyst_cannot_read_the_gold_files_directly(lake):
    con = connect(lake.root, ROLES[COUNTY])
    folder = lake.root / "gold" / "risk_scores"
    for source in (f"{folder}/**/*.parquet", _parquet_file(lake, "gold", "risk_scores")):
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"select * from read_parquet('{source}') where county_code = '{SHIZHONG}'").fetchall()


def test_county_must_be_a_county_of_the_lake(lake):
    assert access_for(None, LIXIA6, lake.root) == Access(COUNTY, LIXIA6)
    assert access_for("county", LIXIA, lake.root) == Access(COUNTY, LIXIA6)  # the 12-digit form
    for role, county in [("county", None), ("county", "3701"), ("county", "370100"), ("county", "370199"),
                         ("steward", LIXIA6), ("admin", None)]:
        with pytest.raises(AccessError):
            access_for(role, county, lake.root)


# --- the command line: one clear line, exit code 2, no traceback ------------------------------------------
@pytest.mark.parametrize("role_args", [[], ["--county", LIXIA6], ["--role", "steward"]])
def test_cli_refuses_escapes_with_one_line(lake, tmp_path, role_args):
    runner = CliRunner()
    for what in ("process environment", "bronze as text", "gold glob", "copy to a file", "attach a file",
                 "install httpfs", "enable external access"):
        sql = _escapes(lake, tmp_path)[what]
        result = runner.invoke(app, ["query", sql, "--lake", str(lake.root), *role_args])
        assert result.exit_code == 2, (what, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), what
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("query failed: not allowed for the "), (what, result.output)
        assert SECRET not in result.output


def test_cli_names_the_role_s_tables_for_a_table_outside_it(lake):
    result = CliRunner().invoke(app, ["query", "select * from quarantine", "--lake", str(lake.root)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "quarantine does not exist" in lines[0] and "risk_scores" in lines[0], result.output


def test_cli_county_analyst_query_and_bad_county(lake):
    runner = CliRunner()
    ok = runner.invoke(app, ["query", "select distinct county_code from feed_health", "--lake", str(lake.root),
                             "--role", "county", "--county", LIXIA6])
    assert ok.exit_code == 0, ok.output
    assert LIXIA in ok.output and SHIZHONG not in ok.output
    bad = runner.invoke(app, ["query", "select 1", "--lake", str(lake.root), "--county", "999901"])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == ["access refused: 999901 is not a county of the lake's "
                                               "reference/regions.csv"]


def test_shell_refuses_an_escape_and_goes_on(lake):
    result = CliRunner().invoke(app, ["shell", "--lake", str(lake.root), "--county", LIXIA6], input=(
        "select * from read_text('/proc/self/environ');\n"
        "select count(*) as n from risk_scores where county_code <> '%s';\n.quit\n" % LIXIA))
    assert result.exit_code == 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not allowed for the county analyst of 370102" in errors[0]
    assert SECRET not in result.output
    assert "(1 row)" in result.output


def test_dates_and_instants_keep_their_types(lake):
    con = connect(lake.root, ROLES[STEWARD])
    assert con.sql("select typeof(week_start) from risk_scores limit 1").fetchall()[0][0] == "DATE"
    assert con.sql("select max(week_start) from risk_scores").fetchall()[0][0] == WEEK
    assert con.sql("select typeof(quarantined_at) from quarantine limit 1").fetchall()[0][0].startswith("TIMESTAMP")
    assert isinstance(con.sql("select min(week_start) from hotline_calls").fetchall()[0][0], dt.date)
