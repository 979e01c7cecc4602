"""The work-order system read straight from its PostgreSQL table, incrementally by ``updated_at``.

A real PostgreSQL server is started for this module: ``initdb`` in a temporary folder, a free loopback
port, stopped at the end (as the ``postgres`` system user when the tests run as root, since PostgreSQL
refuses to run as root). Without the server binaries the module is skipped with the reason
(``make test`` installs the Debian package ``postgresql`` first when it can).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import traceback
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drop_builder import PII, REGIONS
from fengqiao.core.envscope import settings_env
from fengqiao.app.loopback_postgres import LoopbackPostgres, server_unavailable
from fengqiao.core.settings import Settings
from fengqiao.lake import Lake, read_table

psycopg2 = pytest.importorskip("psycopg2")

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = "fengqiao_admin"
EXTRACTOR = "fengqiao_extractor"
DATABASE = "workorders"
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+08:00$")
PII_VALUES = (PII["caller_name"], PII["caller_phone"], PII["id_number"], PII["bank_card"], PII["street"])


# --- a throwaway PostgreSQL server ------------------------------------------------------------------

class PostgresServer(LoopbackPostgres):
    """The loopback server with the work-order database and a least-privilege extractor role."""

    admin_user = ADMIN

    def __init__(self):
        super().__init__()
        self.extractor_password = "Ext-" + secrets.token_urlsafe(18)  # the secret that must never be logged

    def start(self) -> "PostgresServer":
        super().start()
        with self.connect("postgres", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE ROLE {EXTRACTOR} LOGIN PASSWORD %s", (self.extractor_password,))
            cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ADMIN} ENCODING 'UTF8'")
        return self

    def admin(self, dbname: str = DATABASE, autocommit: bool = False):
        """A superuser connection to ``dbname`` (the work-order database by default)."""
        return self.connect(dbname, autocommit=autocommit)

    def dsn(self, password: str | None = None, url: bool = True) -> str:
        password = self.extractor_password if password is None else password
        if url:
            return f"postgresql://{EXTRACTOR}:{password}@127.0.0.1:{self.port}/{DATABASE}"
        return f"host=127.0.0.1 port={self.port} dbname={DATABASE} user={EXTRACTOR} password={password}"


@pytest.fixture(scope="module")
def pg():
    reason = server_unavailable()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


# --- the upstream table and its rows -----------------------------------------------------------------

_TABLE_COUNTER = iter(range(1, 1000))


def make_table(pg: PostgresServer, local_time: bool = False) -> str:
    """A fresh work-order table (one per test); ``local_time``: timestamps without time zone (Beijing)."""
    name = f"work_orders_{next(_TABLE_COUNTER)}"
    ts = "timestamp" if local_time else "timestamptz"
    with pg.admin() as conn, conn.cursor() as cur:
        cur.execute(f"""
            CREATE TABLE {name} (
                order_id text PRIMARY KEY, created_at {ts} NOT NULL, channel text, call_id text,
                region_code text, category text, summary text, urgency text, status text NOT NULL,
                assigned_unit text, due_at {ts}, closed_at {ts}, is_repeat boolean NOT NULL DEFAULT false,
                repeat_of text, satisfaction smallint, updated_at {ts} NOT NULL,
                handler_phone text  -- not in the contract: never extracted
            )""")
        cur.execute(f"CREATE INDEX ON {name} (updated_at)")
        cur.execute(f"GRANT SELECT ON {name} TO {EXTRACTOR}")
    return name


def at(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, second, micro, tzinfo=SHANGHAI)


def order(order_id: str, updated: dt.datetime, status: str = "受理", region: str = "370102001001",
          summary: str | None = None, **extra) -> dict:
    row = {
        "order_id": order_id, "created_at": at(3, 9), "channel": "热线", "call_id": f"C-{order_id}",
        "region_code": region, "category": "劳动社保/欠薪",
        "summary": summary if summary is not None else
        f"{PII['caller_name']}反映工资没发，电话{PII['caller_phone']}，身份证{PII['id_number']}",
        "urgency": "紧急", "status": status, "assigned_unit": "历下区人社局", "due_at": at(10, 9), "closed_at": None,
        "is_repeat": False, "repeat_of": None, "satisfaction": None, "updated_at": updated,
        "handler_phone": "13700001111",
    }
    row.update(extra)
    return row


def upsert(pg: PostgresServer, table: str, rows: list[dict]) -> None:
    with pg.admin() as conn, conn.cursor() as cur:
        for row in rows:
            cols = list(row)
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "order_id")
            cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
                        f"ON CONFLICT (order_id) DO UPDATE SET {updates}", [row[c] for c in cols])


def new_lake(root: Path) -> Lake:
    """A lake whose reference/regions.csv is the tiny drop's (silver checks region codes against it)."""
    lake = Lake.at(root)
    lake.reference.mkdir(parents=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "name", "level", "parent_code", "lat", "lon", "population"])
    writer.writerows(REGIONS)
    (lake.reference / "regions.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return lake


def extract(pg: PostgresServer, lake: Lake, table: str, **kwargs) -> tuple[dict, list[str]]:
    from jobs.bronze.extract_work_orders_db import extract_work_orders

    lines: list[str] = []
    summary = extract_work_orders(kwargs.pop("dsn", None) or pg.dsn(), lake, table=table, log=lines.append, **kwargs)
    return summary, lines


def silver(spark, lake: Lake) -> dict:
    from jobs.silver import work_orders as silver_work_orders

    return silver_work_orders.run(spark, lake, Settings.from_env())


def silver_rows(lake: Lake) -> dict[str, dict]:
    df = read_table(lake.silver("work_orders"))
    return {row["order_id"]: row for row in df.to_dict("records")}


def tree_hashes(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def state(lake: Lake, table: str) -> dict:
    from fengqiao.lake.bronze import extract_state_path as state_path, read_extract_state as load_state

    return load_state(state_path(lake, table))


def manifest_rows(lake: Lake) -> list[dict]:
    from fengqiao.lake.bronze import read_manifest

    return read_manifest(lake).to_pylist()


# --- tests ------------------------------------------------------------------------------------------------

def test_first_extract_lands_every_row_as_a_contract_export(pg, spark, tmp_path):
    from jobs.silver import work_orders as silver_work_orders

    table = make_table(pg)
    rows = [
        order("DB1", at(3, 10)),
        order("DB2", at(3, 11, 5, 7, 123456), summary="工地老板说再拖就堵路，\n另有一行, 带逗号"),
        order("DB3", at(4, 8), status="办结", closed_at=at(4, 8), satisfaction=5, is_repeat=True, repeat_of="DB1",
              region="370112100000"),
        order("DB4", at(4, 9), channel=None, call_id=None),
    ]
    upsert(pg, table, rows)
    lake = new_lake(tmp_path / "lake")

    summary, lines = extract(pg, lake, table)

    assert summary["rows_extracted"] == 4 and summary["files_landed"] == 1 and summary["changed"] is True
    assert any("4 rows read, 4 new" in line for line in lines)  # progress per batch
    [bronze_path] = summary["files"]
    landed = lake.root / bronze_path
    assert re.fullmatch(r"bronze/workorders/\d{4}-\d{2}-\d{2}/orders-db-\d{8}T\d{12}-001\.csv", bronze_path)
    assert not list(lake.bronze("workorders").rglob(".*"))  # no partial file left behind
    # Recorded in the manifest exactly like a dropped file.
    [entry] = manifest_rows(lake)
    assert entry["feed"] == "workorders" and entry["bronze_path"] == bronze_path
    assert entry["sha256"] == hashlib.sha256(landed.read_bytes()).hexdigest()
    assert entry["bytes"] == landed.stat().st_size and entry["day"] == landed.parent.name
    # A contract export: UTF-8, the contract header, ISO 8601 with +08:00, true/false, empty for null.
    records = list(csv.DictReader(io.StringIO(landed.read_bytes().decode("utf-8"))))
    assert list(records[0]) == silver_work_orders.COLUMNS
    assert [r["order_id"] for r in records] == ["DB1", "DB2", "DB3", "DB4"]  # by updated_at
    by_id = {r["order_id"]: r for r in records}
    expected = {r["order_id"]: r for r in rows}
    for oid, record in by_id.items():
        for col in ("created_at", "due_at", "updated_at"):
            assert ISO_WITH_OFFSET.match(record[col]), record[col]
            assert dt.datetime.fromisoformat(record[col]) == expected[oid][col]
    assert by_id["DB3"]["closed_at"] == "2025-03-04T08:00:00+08:00" and by_id["DB1"]["closed_at"] == ""
    assert (by_id["DB3"]["is_repeat"], by_id["DB1"]["is_repeat"]) == ("true", "false")
    assert by_id["DB3"]["satisfaction"] == "5" and by_id["DB4"]["channel"] == ""
    assert by_id["DB2"]["summary"] == expected["DB2"]["summary"]  # comma and line break survive
    assert "handler_phone" not in records[0] and "13700001111" not in landed.read_text(encoding="utf-8")
    assert state(lake, table)["watermark"] == "2025-03-04T09:00:00+08:00"

    # The unchanged silver job reads it like a drop.
    counts = silver(spark, lake)
    assert counts["rows"] == 4 and counts["quarantined"] == 0, counts
    out = silver_rows(lake)
    assert set(out) == {"DB1", "DB2", "DB3", "DB4"}
    assert out["DB2"]["updated_at"] == rows[1]["updated_at"]  # fraction of a second kept
    assert out["DB3"]["closed_at"] == rows[2]["closed_at"] and out["DB3"]["satisfaction"] == 5
    assert out["DB3"]["is_repeat"] and not out["DB1"]["is_repeat"] and out["DB3"]["township_code"] == "370112100000"
    assert out["DB2"]["summary"] == expected["DB2"]["summary"] and out["DB2"]["has_escalation_terms"]


def test_timestamps_without_time_zone_are_beijing_time_and_quoting_is_rfc_4180(pg, tmp_path):
    table = make_table(pg, local_time=True)
    quoted = '他说"再拖就堵路"，\\n不是换行,\n这才是'
    upsert(pg, table, [order("L1", at(5, 10).replace(tzinfo=None), created_at=at(5, 9).replace(tzinfo=None),
                             due_at=None, summary=quoted)])
    lake = new_lake(tmp_path / "lake")
    summary, _ = extract(pg, lake, table)
    text = (lake.root / summary["files"][0]).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    assert records[0]["updated_at"] == "2025-03-05T10:00:00+08:00"
    assert records[0]["created_at"] == "2025-03-05T09:00:00+08:00" and records[0]["due_at"] == ""
    # Written as the contract's exports are (Python's csv, RFC 4180: quotes doubled inside quoted fields).
    assert records[0]["summary"] == quoted and '""再拖就堵路""' in text


def test_status_updates_are_extracted_next_run_and_silver_keeps_the_newest(pg, spark, tmp_path):
    table = make_table(pg)
    upsert(pg, table, [order("S1", at(3, 10)), order("S2", at(3, 10, 30)), order("S3", at(3, 11))])
    lake = new_lake(tmp_path / "lake")

    first, _ = extract(pg, lake, table)
    assert first["rows_extracted"] == 3
    silver(spark, lake)
    assert {k: v["status"] for k, v in silver_rows(lake).items()} == {"S1": "受理", "S2": "受理", "S3": "受理"}

    upsert(pg, table, [order("S1", at(4, 9), status="办理中"), order("S2", at(4, 9, 30), status="办理中")])
    second, _ = extract(pg, lake, table)
    assert second["rows_extracted"] == 2 and second["files_landed"] == 1  # only the changed orders
    assert second["watermark"] == "2025-03-04T09:30:00+08:00"
    counts = silver(spark, lake)
    assert counts["new_files"] == 1 and counts["mode"] == "incremental"
    assert {k: v["status"] for k, v in silver_rows(lake).items()} == {"S1": "办理中", "S2": "办理中", "S3": "受理"}

    upsert(pg, table, [order("S1", at(6, 15), status="办结", closed_at=at(6, 15), satisfaction=4)])
    third, _ = extract(pg, lake, table)
    assert third["rows_extracted"] == 1
    silver(spark, lake)
    final = silver_rows(lake)
    assert len(final) == 3  # one row per order, not one per version
    assert {k: v["status"] for k, v in final.items()} == {"S1": "办结", "S2": "办理中", "S3": "受理"}
    assert final["S1"]["closed_at"] == at(6, 15) and final["S1"]["satisfaction"] == 4
    assert len([m for m in manifest_rows(lake) if m["feed"] == "workorders"]) == 3


def test_a_run_with_nothing_new_lands_nothing_and_keeps_the_watermark(pg, tmp_path):
    table = make_table(pg)
    upsert(pg, table, [order(f"N{i}", at(3, 10, i)) for i in range(7)])
    lake = new_lake(tmp_path / "lake")
    # Small batches and files: seven rows come in four fetches and land as three files.
    first, lines = extract(pg, lake, table, batch_rows=2, rows_per_file=3, overlap_seconds=3600)
    assert first["rows_extracted"] == 7 and first["files_landed"] == 3
    assert [line for line in lines if "rows read" in line][-1].startswith("work-order database: 7 rows read, 7 new")
    assert len([line for line in lines if "rows read" in line]) == 4
    state_file = lake.root / "bronze" / "_db_extract" / f"{table}.json"
    before = (state_file.read_bytes(), state_file.stat().st_mtime_ns, lake.bronze_manifest.read_bytes(),
              tree_hashes(lake.root / "bronze"))

    again, lines = extract(pg, lake, table, batch_rows=2, rows_per_file=3, overlap_seconds=3600)

    # Every row is within the hour's overlap, so all are read again, and all are known already.
    assert (again["rows_read"], again["rows_extracted"], again["rows_already_landed"]) == (7, 0, 7)
    assert again["files_landed"] == 0 and again["changed"] is False
    assert again["watermark"] == first["watermark"] == "2025-03-03T10:06:00+08:00"
    after = (state_file.read_bytes(), state_file.stat().st_mtime_ns, lake.bronze_manifest.read_bytes(),
             tree_hashes(lake.root / "bronze"))
    assert after == before
    assert any("nothing new" in line and "watermark unchanged" in line for line in lines)


def test_a_row_committed_late_with_an_older_timestamp_is_not_lost(pg, tmp_path):
    table = make_table(pg)
    upsert(pg, table, [order("O1", at(3, 10)), order("O2", at(3, 10, 20))])
    lake = new_lake(tmp_path / "lake")
    extract(pg, lake, table, overlap_seconds=900)
    # A transaction that began at 10:12 commits after the extract: its updated_at is before the watermark.
    upsert(pg, table, [order("LATE", at(3, 10, 12))])
    summary, _ = extract(pg, lake, table, overlap_seconds=900)
    assert summary["rows_extracted"] == 1 and summary["rows_already_landed"] == 1  # O1 is outside 15 min
    landed = (lake.root / summary["files"][0]).read_text(encoding="utf-8")
    assert "LATE" in landed and "O2" not in landed
    assert summary["watermark"] == "2025-03-03T10:20:00+08:00"  # the watermark never goes back
    # The overlap bounds what is caught: a row committed later than that is outside it (raise the setting).
    upsert(pg, table, [order("TOO-LATE", at(3, 10, 1))])
    summary, _ = extract(pg, lake, table, overlap_seconds=900)
    assert summary["rows_extracted"] == 0


def test_a_crash_between_landing_and_saving_the_watermark_changes_nothing(pg, spark, tmp_path, monkeypatch):
    from jobs.bronze import extract_work_orders_db as job

    table = make_table(pg)
    upsert(pg, table, [order("K1", at(3, 10)), order("K2", at(3, 11))])
    lake = new_lake(tmp_path / "lake")
    extract(pg, lake, table)
    silver(spark, lake)
    upsert(pg, table, [order("K1", at(4, 9), status="办理中"), order("K3", at(4, 10))])
    watermark_before = state(lake, table)["watermark"]

    def crash(*_args, **_kwargs):
        raise RuntimeError("simulated crash after landing")

    monkeypatch.setattr(job, "write_extract_state", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        extract(pg, lake, table)
    monkeypatch.undo()
    # The file is in bronze and the manifest; the watermark is not.
    assert len(manifest_rows(lake)) == 2 and state(lake, table)["watermark"] == watermark_before
    silver(spark, lake)
    silver_after_crash = tree_hashes(lake.silver("work_orders"))
    bronze_after_crash = tree_hashes(lake.root / "bronze" / "workorders")

    rerun, lines = extract(pg, lake, table)

    assert rerun["rows_extracted"] == 2  # the same rows again ...
    assert rerun["files_landed"] == 0 and rerun["files_skipped_duplicate"] == 1  # ... are the same batch
    assert any("repeats a landed batch" in line for line in lines)
    assert rerun["watermark"] == "2025-03-04T10:00:00+08:00" == state(lake, table)["watermark"]
    assert tree_hashes(lake.root / "bronze" / "workorders") == bronze_after_crash
    assert silver(spark, lake) == {"table": "work_orders", "new_files": 0, "changed": False}
    assert tree_hashes(lake.silver("work_orders")) == silver_after_crash
    assert {k: v["status"] for k, v in silver_rows(lake).items()} == {"K1": "办理中", "K2": "受理", "K3": "受理"}


def test_no_personal_data_after_silver(pg, spark, tmp_path, capsys):
    from jobs import stages as pipeline

    table = make_table(pg)
    upsert(pg, table, [
        order("P1", at(3, 10)),
        order("P2", at(3, 11), summary=f"住{PII['street']}，卡号{PII['bank_card']}，{PII['caller_name']}反映被拖欠工资"),
    ])
    lake = new_lake(tmp_path / "lake")
    with settings_env(FENGQIAO_LAKE=str(lake.root), FENGQIAO_WORKORDERS_DSN=pg.dsn(),
                      FENGQIAO_WORKORDERS_TABLE=table, FENGQIAO_THROUGH=None):
        extracted = pipeline.extract_work_orders_db()
        merged = pipeline.build_silver("workorders")  # the stage, audited as in the DAG
    assert extracted["rows_extracted"] == 2 and merged["rows"] == 2
    # Bronze keeps what the system holds (it must, for a rebuild) ...
    bronze_text = (lake.root / extracted["files"][0]).read_text(encoding="utf-8")
    assert all(value in bronze_text for value in PII_VALUES)
    # ... nothing after it does: silver, quarantine, the stage summaries, the run log, the output.
    silver_text = read_table(lake.silver("work_orders")).to_csv()
    assert "[电话]" in silver_text and "[身份证]" in silver_text  # masked, not dropped
    texts = [silver_text, json.dumps(extracted, ensure_ascii=False), json.dumps(merged, ensure_ascii=False),
             (lake.run_log / "stages.jsonl").read_text(encoding="utf-8"), capsys.readouterr().out]
    if lake.quarantine.exists():
        texts.append(read_table(lake.quarantine).to_csv())
    for text in texts:
        for value in PII_VALUES:
            assert value not in text, value


def test_the_dsn_and_password_never_reach_logs_summaries_or_errors(pg, tmp_path, capsys):
    from jobs import stages as pipeline
    from fengqiao.core.settings import Settings
    from jobs.bronze.extract_work_orders_db import ExtractError, extract_work_orders

    table = make_table(pg)
    upsert(pg, table, [order("D1", at(3, 10)), order("D2", at(5, 10))])
    lake = new_lake(tmp_path / "lake")
    secret = pg.extractor_password
    texts: list[str] = []
    for url in (True, False):
        with settings_env(FENGQIAO_LAKE=str(lake.root), FENGQIAO_WORKORDERS_DSN=pg.dsn(url=url),
                          FENGQIAO_WORKORDERS_TABLE=table, FENGQIAO_THROUGH="2025-03-04"):
            texts.append(repr(Settings.from_env()))
            summary = pipeline.extract_work_orders_db()
            texts.append(json.dumps(summary, ensure_ascii=False))
        if url:  # the first run, bounded by FENGQIAO_THROUGH: D2 was updated after that day
            assert summary["rows_extracted"] == 1 and summary["source"] == f"127.0.0.1:{pg.port}/{DATABASE}"
    texts += [capsys.readouterr().out, (lake.run_log / "stages.jsonl").read_text(encoding="utf-8"),
              json.dumps(state(lake, table))]
    assert "work-order database: reading" in texts[-3]  # the log was captured, so the check below means something
    # Connection errors: a wrong password, a malformed DSN (psycopg2 quotes those), an unknown host.
    wrong = "Wrong-" + secrets.token_urlsafe(12)
    for dsn in (pg.dsn(password=wrong), f"postgresql://{EXTRACTOR}:{wrong}@127.0.0.1:notaport/{DATABASE}",
                f"host=127.0.0.1 port={pg.port} dbname={DATABASE} user={EXTRACTOR} password={wrong} bogus=1"):
        lines: list[str] = []
        with pytest.raises(ExtractError) as caught:
            extract_work_orders(dsn, lake, table=table, log=lines.append)
        texts.append("".join(traceback.format_exception(caught.value)) + "\n".join(lines))
        assert "cannot connect" in str(caught.value)
        assert wrong not in texts[-1] and dsn not in texts[-1]
    for text in texts:
        assert secret not in text
        assert pg.dsn() not in text and pg.dsn(url=False) not in text


def test_stage_is_a_logged_no_op_without_a_dsn(tmp_path, capsys):
    from jobs import stages as pipeline

    lake = Lake.at(tmp_path / "lake")
    with settings_env(FENGQIAO_LAKE=str(lake.root), FENGQIAO_WORKORDERS_DSN=None):
        summary = pipeline.extract_work_orders_db()
    assert "FENGQIAO_WORKORDERS_DSN is not set" in summary["skipped"]
    assert "FENGQIAO_WORKORDERS_DSN is not set" in capsys.readouterr().out
    assert not (lake.root / "bronze").exists()


def test_the_work_orders_ingest_dag_extracts_before_silver(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    dags = Path(__file__).resolve().parents[3] / "dags" / "fengqiao_ingest.py"
    bag = DagBag(dag_folder=str(dags))
    assert bag.import_errors == {}
    ingest = bag.dags["fengqiao_ingest"]
    extract_task = ingest.get_task("extract_work_orders_db")
    # Extracted before the work orders' check for new files, so the rows it lands are built into silver.
    assert extract_task.downstream_task_ids == {"has_new_files_workorders"}
    assert "build_silver_work_orders" in ingest.get_task("has_new_files_workorders").downstream_task_ids
    assert extract_task.retries is not None
    from dag_graph import ancestors as _ancestors

    for other in ("build_silver_hotline_calls", "build_silver_mediation_cases"):
        assert "extract_work_orders_db" not in _ancestors(ingest.get_task(other))


def test_cli_extracts_with_the_dsn_from_the_environment_only(pg, tmp_path):
    from typer.testing import CliRunner

    from fengqiao.app.cli import app

    table = make_table(pg)
    upsert(pg, table, [order("CLI1", at(3, 10)), order("CLI2", at(3, 12))])
    lake = new_lake(tmp_path / "lake")
    runner = CliRunner()
    ran = runner.invoke(app, ["extract-orders-db", "--lake", str(lake.root)],
                        env={"FENGQIAO_WORKORDERS_DSN": pg.dsn(), "FENGQIAO_WORKORDERS_TABLE": table,
                             "FENGQIAO_THROUGH": None, "FENGQIAO_LAKE": None})  # restored afterwards
    assert ran.exit_code == 0, ran.output
    assert "2 rows extracted (0 already landed), 1 files landed; watermark 2025-03-03T12:00:00+08:00" in ran.output
    assert pg.extractor_password not in ran.output
    skipped = runner.invoke(app, ["extract-orders-db", "--lake", str(lake.root)],
                            env={"FENGQIAO_WORKORDERS_DSN": None, "FENGQIAO_LAKE": None})
    assert skipped.exit_code == 2 and "FENGQIAO_WORKORDERS_DSN is not set" in skipped.output
