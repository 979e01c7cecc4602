"""The data dictionary and the example questions are generated from code and cannot go stale."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from features import FEATURE_COLUMNS, KEY_COLUMNS
from fengqiao.core import schemas
from fengqiao.core.column_docs import COLUMN_DOCS, GOLD_TABLES, SILVER_TABLES, TABLES
from fengqiao.app.datadict import build_data_dictionary, duckdb_type, table_schemas
from fengqiao.app.example_queries import EXAMPLE_QUERIES, build_example_questions

ROOT = Path(__file__).resolve().parents[2]
DEMO_LAKE = ROOT / "var" / "demo" / "lake"

from fengqiao.delivery.dispositions import DISPOSITION_COLUMNS  # noqa: E402
from models.hotspots import OUTPUT_COLUMNS  # noqa: E402
from jobs.gold import feed_health as jobs_feed_health  # noqa: E402

EXPECTED_COLUMNS = {
    "hotline_calls": schemas.columns_of(schemas.HOTLINE_CALLS),
    "work_orders": schemas.columns_of(schemas.WORK_ORDERS),
    "mediation_cases": schemas.columns_of(schemas.MEDIATION_CASES),
    "quarantine": schemas.columns_of(schemas.QUARANTINE),
    # region_name is published with the features but is not a model feature
    "region_week_features": [*KEY_COLUMNS, "region_name", *FEATURE_COLUMNS],
    # as published: the scoring job's columns plus data_gap (marked by jobs/gold/score_marks.py)
    "risk_scores": schemas.columns_of(schemas.RISK_SCORES_PUBLISHED),
    "baseline_scores": schemas.columns_of(schemas.RISK_SCORES_PUBLISHED),
    "alerts": schemas.columns_of(schemas.ALERTS),
    # the producers' own column lists, so that a schema drifting from what is written fails here
    "hotspot_patterns": OUTPUT_COLUMNS,
    "alert_dispositions": DISPOSITION_COLUMNS,
    "feed_health": jobs_feed_health.COLUMNS,
}


def test_every_table_is_described():
    assert set(TABLES) == set(COLUMN_DOCS) == set(EXPECTED_COLUMNS) == {*SILVER_TABLES, *GOLD_TABLES}
    for name, doc in TABLES.items():
        assert doc.layer == ("silver" if name in SILVER_TABLES else "gold")
        assert doc.grain and doc.partitioning and doc.written_by, name
        assert doc.engine in ("spark", "pandas"), name


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_every_column_has_a_meaning_and_a_unit(table):
    docs = COLUMN_DOCS[table]
    missing = [c for c in EXPECTED_COLUMNS[table] if c not in docs]
    extra = [c for c in docs if c not in EXPECTED_COLUMNS[table]]
    assert not missing, f"{table}: undocumented columns {missing}"
    assert not extra, f"{table}: documented columns that the schema does not have {extra}"
    for column, (meaning, unit) in docs.items():
        assert meaning.strip() and unit.strip(), f"{table}.{column}"


def test_dictionary_types_follow_the_published_schemas():
    for table, schema in table_schemas().items():
        assert [f.name for f in schema.fields] == EXPECTED_COLUMNS[table], table
    text = build_data_dictionary()
    assert "| `wage_arrears` | bigint | BIGINT | no |" in text
    assert "| `repeat_caller_share` | double | DOUBLE | no |" in text
    assert "| `started_at` | timestamp | TIMESTAMPTZ | no |" in text
    assert "| `sent_at` | timestamp | TIMESTAMPTZ | yes |" in text
    assert "| `reasons` | array<string> | VARCHAR[] | no |" in text
    for table in EXPECTED_COLUMNS:
        assert f"### `{TABLES[table].layer}/{table}`" in text
    assert str(ROOT) not in text


def test_committed_data_dictionary_is_current():
    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == build_data_dictionary(), \
        "docs/data-dictionary.md is stale: run `python -m fengqiao.app.datadict > docs/data-dictionary.md`"


def test_committed_example_questions_are_current():
    committed = (ROOT / "docs" / "example-questions.md").read_text(encoding="utf-8")
    assert committed == build_example_questions(), \
        "docs/example-questions.md is stale: run `python -m fengqiao.app.example_queries > docs/example-questions.md`"


def test_examples_are_bilingual_and_complete():
    assert 8 <= len(EXAMPLE_QUERIES) <= 12
    for q in EXAMPLE_QUERIES:
        assert q["title_zh"] and q["title_en"] and q["sql"].rstrip().endswith(";")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in q["title_zh"])


def test_generator_entry_points_write_utf8_markdown():
    for module, build in (("fengqiao.app.datadict", build_data_dictionary),
                          ("fengqiao.app.example_queries", build_example_questions)):
        out = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, check=True,
                             env={"PATH": "", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"})
        assert out.stdout.decode("utf-8") == build(), module


def _normalise(duck_type: str) -> str:
    return duck_type.replace(" (UTC)", "").replace("_NS", "").replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")


def test_dictionary_matches_the_demo_lake():
    """Column names and DuckDB types of a real run agree with the dictionary (skipped without a demo lake)."""
    if not (DEMO_LAKE / "gold" / "risk_scores").is_dir():
        pytest.skip("no demo lake (make demo builds var/demo/lake)")
    from fengqiao.app.analyst import HIDDEN_COLUMNS, connect

    con = connect(DEMO_LAKE, "steward")  # the role that reads silver as well as gold
    schemas_ = table_schemas()
    present = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
    # alert_dispositions exists only once a bureau has answered; every other table a demo run writes.
    assert set(schemas_) - present <= {"alert_dispositions"}
    for table, schema in schemas_.items():
        if table not in present:
            continue
        described = {name: typ for name, typ, *_ in con.sql(f"describe {table}").fetchall()}
        hidden = set(HIDDEN_COLUMNS.get(table, ()))  # e.g. the quarantine's raw lines: no role reads them
        assert set(described) == {f.name for f in schema.fields} - hidden, table
        for field in schema.fields:
            if field.name in hidden:
                continue
            actual = described[field.name]
            if actual == '"NULL"':  # a column with only nulls so far (e.g. alerts.detail)
                continue
            assert _normalise(actual) == _normalise(duckdb_type(table, field.dataType.simpleString())), \
                f"{table}.{field.name}: lake {actual}"
