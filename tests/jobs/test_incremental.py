"""Incremental silver, no-op re-runs, crash safety under a real SIGKILL, and backfill.

One module-scoped scenario builds three lakes from the tiny drop (tests/drop_builder.py):

- ``once``: one run over every day folder;
- ``inc``: two deliveries, the second with earlier day folders (out of order) and corrections;
- ``base``: a copy of ``inc`` right after the first delivery, the starting point of the kill tests.

Stages are called as the Airflow tasks call them (jobs.stages), in this process with the
session's Spark, except in the kill tests, where a child process runs them and is killed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from drop_builder import DELIVERIES, copy_days, write_drop, write_later_days
from fengqiao.core.envscope import settings_env
from fengqiao.core.settings import Settings
from fengqiao.lake import FEEDS, SILVER_TABLES, Lake, read_table
from tiny_model import register_tiny_model

pytestmark = pytest.mark.slow  # minutes: whole deliveries through the stages, a killed run
KEYS = {"hotline_calls": "call_id", "work_orders": "order_id", "mediation_cases": "case_id"}
ROOT = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------

def _env(source: Path, lake: Path, model_dir: Path) -> dict:
    return {"FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake), "FENGQIAO_MODEL_DIR": str(model_dir),
            "FENGQIAO_THROUGH": None}


def run_stages(source: Path, lake: Path, model_dir: Path, audit: bool = True) -> dict:
    """Land and merge every feed, then features and scores (the ingest, features and scoring DAGs).

    ``audit=False`` calls the silver jobs without their Great Expectations audit (the stage function
    audits every table it publishes, ~30 expectations each): for the runs that only build a lake to compare.
    """
    import importlib

    from jobs import stages as pipeline
    from fengqiao.core.spark import get_spark

    out: dict = {}
    started = dt.datetime.now(dt.timezone.utc)
    with settings_env(**_env(source, lake, model_dir)):
        for feed in FEEDS:
            out[f"bronze:{feed}"] = pipeline.land_feed(feed)
            # What the ingest DAG's short-circuit asks before it builds silver (and announces the table).
            out[f"pending:{feed}"] = pipeline.silver_has_new_files(feed)
            if audit:
                out[f"silver:{feed}"] = pipeline.build_silver(feed)
            else:
                job = importlib.import_module(f"jobs.silver.{SILVER_TABLES[feed]}")
                out[f"silver:{feed}"] = job.run(get_spark(), Lake.at(lake), Settings.from_env())
        # What the ingest DAG's announce_silver asks before it tells the features DAG that silver changed.
        out["published"] = pipeline.silver_tables_published_since(started)
        out["features"] = pipeline.build_features()
        out["scores"] = pipeline.score_regions()
    return out


def build_reference(spark, source: Path, lake_dir: Path, model_dir: Path) -> None:
    """One run over everything, the jobs called directly (no audit: it only has to be the reference)."""
    from jobs.gold import region_week_features as gold_region_week_features
    from jobs.gold import risk_scores as gold_risk_scores
    from jobs.silver import hotline_calls as silver_hotline_calls
    from jobs.silver import mediation_cases as silver_mediation_cases
    from jobs.silver import work_orders as silver_work_orders
    from jobs.bronze.land_drops import land_drops

    lake = Lake.at(lake_dir)
    land_drops(source, lake, log=lambda _: None)
    for job in (silver_hotline_calls, silver_work_orders, silver_mediation_cases):
        job.run(spark, lake, Settings.from_env())
    gold_region_week_features.run(spark, lake)
    from jobs.gold import feed_health as gold_feed_health  # before scoring, as in the pipeline: scores marked where a feed went silent

    gold_feed_health.run(lake)
    gold_risk_scores.run(lake, model_dir)


def tree_hashes(lake: Path, layers=("silver", "gold")) -> dict[str, str]:
    hashes = {}
    for layer in layers:
        for path in sorted((lake / layer).rglob("*")):
            if path.is_file():
                hashes[path.relative_to(lake).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def silver_frame(lake: Path, table: str) -> pd.DataFrame:
    df = read_table(Lake.at(lake).silver(table))
    return df[sorted(df.columns)].sort_values(KEYS[table]).reset_index(drop=True)


def quarantine_frame(lake: Path) -> pd.DataFrame:
    df = read_table(Lake.at(lake).quarantine).drop(columns=["quarantined_at"])
    df = df.astype(str)
    return df[sorted(df.columns)].sort_values(sorted(df.columns)).reset_index(drop=True)


def gold_frame(lake: Path, table: str) -> pd.DataFrame:
    df = read_table(Lake.at(lake).gold(table))
    if "reasons" in df:
        df["reasons"] = df["reasons"].map(lambda r: list(r) if r is not None else [])
    keys = [c for c in ("region_code", "week_start") if c in df]
    return df[sorted(df.columns)].sort_values(keys).reset_index(drop=True)


def assert_same_silver(lake: Path, expected: Path) -> None:
    for table in SILVER_TABLES.values():
        pd.testing.assert_frame_equal(silver_frame(lake, table), silver_frame(expected, table), obj=table)
    pd.testing.assert_frame_equal(quarantine_frame(lake), quarantine_frame(expected), obj="quarantine")


# --- the scenario ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scenario(spark, tmp_path_factory):
    # Glob characters in the folder holding drop, lake and models: every Spark and DuckDB read must take the
    # lake's paths literally (unescaped, Spark finds no table under ``lake[1]`` or reads another folder).
    work = tmp_path_factory.mktemp("incremental [1]{a}")
    full = write_later_days(write_drop(work / "full"))
    shutil.rmtree(full / "truth")
    models = work / "models"
    register_tiny_model(models)

    everything = {feed: sorted(set(DELIVERIES[0].get(feed, []) + DELIVERIES[1].get(feed, []))) for feed in FEEDS}
    once_source = copy_days(full, work / "once-source", everything)
    build_reference(spark, once_source, work / "once", models)

    inc_source = copy_days(full, work / "inc-source", DELIVERIES[0])
    first = run_stages(inc_source, work / "inc", models, audit=False)
    shutil.copytree(work / "inc", work / "base")  # the lake after the first delivery
    copy_days(full, inc_source, DELIVERIES[1])
    second = run_stages(inc_source, work / "inc", models, audit=False)
    return {"work": work, "full": full, "models": models, "first": first, "second": second,
            "inc_source": inc_source}


def test_two_deliveries_give_the_same_silver_as_one_run(scenario):
    work = scenario["work"]
    assert scenario["second"]["silver:workorders"]["mode"] == "incremental"
    # The second run read only the files it had not merged: workorders 2025-03-03 (2 files) and 2025-03-10.
    assert scenario["second"]["silver:workorders"]["new_files"] == 3
    assert scenario["second"]["pending:workorders"] is True
    assert "work_orders" in scenario["second"]["published"]
    assert_same_silver(work / "inc", work / "once")
    orders = silver_frame(work / "inc", "work_orders").set_index("order_id")
    assert orders.loc["W1", "status"] == "退回"  # the 2025-03-06 version beats the earlier day delivered later
    assert orders.loc["W2", "status"] == "办结"  # a correction with a later updated_at
    calls = silver_frame(work / "inc", "hotline_calls").set_index("call_id")
    assert str(calls.loc["C2", "week_start"]) == "2025-03-10"  # moved weeks: gone from the week of 03-03
    assert (calls.index == "C2").sum() == 1
    for table in ("region_week_features", "risk_scores"):
        pd.testing.assert_frame_equal(gold_frame(work / "inc", table), gold_frame(work / "once", table), obj=table)
    # Weeks the second delivery did not touch were carried over (hard links), not rewritten.
    assert scenario["second"]["silver:mediation"]["unchanged_weeks"] == 0  # both weeks changed (M2 moved)


def test_rerun_with_nothing_new_changes_no_file(scenario):
    work = scenario["work"]
    lake = work / "inc"
    before = tree_hashes(lake)
    mtimes = {p: p.stat().st_mtime_ns for p in (lake / "silver").rglob("*")} | \
             {p: p.stat().st_mtime_ns for p in (lake / "gold").rglob("*")}
    again = run_stages(scenario["inc_source"], lake, scenario["models"])
    for feed in FEEDS:
        assert again[f"bronze:{feed}"]["landed"] == 0
        assert again[f"pending:{feed}"] is False  # the scheduled DAG would skip the silver build
        assert again[f"silver:{feed}"]["new_files"] == 0 and again[f"silver:{feed}"]["changed"] is False
    assert again["published"] == []  # ... and announce nothing
    assert again["features"]["new_files"] == 0 and again["features"]["changed"] is False
    assert again["scores"]["new_files"] == 0 and again["scores"]["changed"] is False
    assert tree_hashes(lake) == before
    assert {p: p.stat().st_mtime_ns for p in mtimes if p.exists()} == mtimes  # not even rewritten alike
    assert not any((lake / "_staging").iterdir())


# --- crash safety: a real SIGKILL ----------------------------------------------------------------

CHILD = textwrap.dedent("""
    from jobs import stages as pipeline
    for feed in ("hotline", "workorders", "mediation"):
        pipeline.land_feed(feed)
        pipeline.build_silver(feed)
    pipeline.build_features()
    pipeline.score_regions()
""")

# Publishes a new version of one table, held between the publish's two renames (the old version
# renamed aside, the new one not yet in place) so that the parent can kill it exactly there.
CHILD_PUBLISH = textwrap.dedent("""
    import os, shutil, sys, time
    from fengqiao.lake import Lake, publish_directory
    real_rename = os.rename
    def rename(src, dst, *args, **kwargs):
        real_rename(src, dst, *args, **kwargs)
        if str(dst).endswith(".previous"):
            time.sleep(600)
    os.rename = rename
    lake, table, new_version = Lake.at(sys.argv[1]), sys.argv[2], sys.argv[3]
    staged = lake.new_staging_path("silver-" + table)
    shutil.copytree(new_version, staged)
    publish_directory(staged, lake.silver(table))
""")


def _start_child(code: str, args: list[str], env_extra: dict) -> subprocess.Popen:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    env.pop("FENGQIAO_THROUGH", None)
    # Its own process group: the kill takes the child's Spark JVM with it, as a killed task's group would go.
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _kill_when(proc: subprocess.Popen, condition, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    try:
        while not condition():
            if proc.poll() is not None:
                raise AssertionError(f"child ended before the kill point:\n{proc.stdout.read().decode()[-3000:]}")
            if time.time() > deadline:
                raise AssertionError("kill point not reached in time")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_write_keeps_the_last_good_version_and_the_next_run_completes(scenario, tmp_path):
    work = scenario["work"]
    lake_dir = tmp_path / "lake"
    shutil.copytree(work / "base", lake_dir)  # the lake after the first delivery
    source = copy_days(scenario["full"], tmp_path / "source", DELIVERIES[0])
    copy_days(scenario["full"], source, DELIVERIES[1])
    lake = Lake.at(lake_dir)
    before = {t: silver_frame(lake_dir, t) for t in SILVER_TABLES.values()}
    silver_before, gold_before = tree_hashes(lake_dir, ("silver",)), tree_hashes(lake_dir, ("gold",))

    proc = _start_child(CHILD, [], {"FENGQIAO_SOURCE": str(source), "FENGQIAO_LAKE": str(lake_dir),
                                    "FENGQIAO_MODEL_DIR": str(scenario["models"])})
    # Killed while Spark writes the merged hotline table into _staging (files are appearing there).
    _kill_when(proc, lambda: lake.staging.is_dir() and any(
        p.name.startswith("silver-") and any(p.rglob("*")) for p in lake.staging.iterdir()))

    # The last good version is untouched, readable and complete; the half-written one waits in _staging.
    assert tree_hashes(lake_dir, ("silver",)) == silver_before
    assert tree_hashes(lake_dir, ("gold",)) == gold_before
    for table, frame in before.items():
        pd.testing.assert_frame_equal(silver_frame(lake_dir, table), frame, obj=table)
    assert any(p.name.startswith("silver-") for p in lake.staging.iterdir())

    # The next run removes the dead process's staging, completes the merge, and ends where an
    # uninterrupted run over everything ends. (Without the audit, which the child ran and the backfill
    # test covers: this run is about completing the merge.)
    summary = run_stages(source, lake_dir, scenario["models"], audit=False)
    assert not any(lake.staging.iterdir())
    assert summary["silver:hotline"]["new_files"] == 2
    assert_same_silver(lake_dir, work / "once")
    for table in ("region_week_features", "risk_scores"):
        pd.testing.assert_frame_equal(gold_frame(lake_dir, table), gold_frame(work / "once", table), obj=table)


def test_sigkill_mid_publish_is_recovered(scenario, tmp_path):
    from fengqiao.lake import publish_directory, recover_interrupted_publish

    work = scenario["work"]
    lake_dir = tmp_path / "lake"
    shutil.copytree(work / "base", lake_dir)
    lake = Lake.at(lake_dir)
    target = lake.silver("hotline_calls")
    before = silver_frame(lake_dir, "hotline_calls")
    new_version = Lake.at(work / "inc").silver("hotline_calls")

    proc = _start_child(CHILD_PUBLISH, [str(lake_dir), "hotline_calls", str(new_version)], {})
    previous = target.with_name("hotline_calls.previous")
    _kill_when(proc, lambda: previous.exists() and not target.exists(), timeout=60)
    assert previous.exists() and not target.exists()  # killed between the two renames

    # A reader gets the previous version back (read_table recovers), complete.
    pd.testing.assert_frame_equal(silver_frame(lake_dir, "hotline_calls"), before)
    assert target.is_dir() and not previous.exists()
    recover_interrupted_publish(target)  # idempotent
    # The next publish completes; the dead process's staging folder is cleaned up.
    from fengqiao.lake import clean_stale_staging

    assert any(n.startswith("silver-hotline_calls~") for n in clean_stale_staging(lake))
    staged = lake.new_staging_path("silver-hotline_calls")
    shutil.copytree(new_version, staged)
    publish_directory(staged, target)
    pd.testing.assert_frame_equal(silver_frame(lake_dir, "hotline_calls"), silver_frame(work / "inc", "hotline_calls"))
    assert not previous.exists() and not any(lake.staging.iterdir())


# --- backfill ------------------------------------------------------------------------------------

def test_backfill_over_a_range_reproduces_the_same_silver(scenario, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fengqiao.app.cli import app

    work = scenario["work"]
    lake_dir = tmp_path / "lake"
    shutil.copytree(work / "inc", lake_dir)
    manifest_before = read_table(lake_dir / "bronze" / "_manifest.parquet").sort_values("bronze_path")
    for key, value in _env(scenario["inc_source"], lake_dir, scenario["models"]).items():
        monkeypatch.delenv(key, raising=False) if value is None else monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["backfill", "--source", str(scenario["inc_source"]), "--lake", str(lake_dir),
                                      "--from", "2025-03-03", "--to", "2025-03-03"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "backfill" in result.output

    stages = pd.read_json(lake_dir / "_runs" / "stages.jsonl", lines=True)
    merged = stages[stages["stage"].str.startswith("silver:")].tail(3).set_index("stage")
    # hotline 2025-03-03 (1 file) and workorders 2025-03-03 (2 files) merged again; mediation has no such day.
    assert merged.loc["silver:hotline", "forgotten_files"] == 1 and merged.loc["silver:hotline", "new_files"] == 1
    assert merged.loc["silver:workorders", "forgotten_files"] == 2
    assert merged.loc["silver:mediation", "new_files"] == 0
    assert_same_silver(lake_dir, work / "once")
    manifest_after = read_table(lake_dir / "bronze" / "_manifest.parquet").sort_values("bronze_path")
    assert list(manifest_after["bronze_path"]) == list(manifest_before["bronze_path"])
    assert list(manifest_after["sha256"]) == list(manifest_before["sha256"])
    for table in ("region_week_features", "risk_scores"):
        pd.testing.assert_frame_equal(gold_frame(lake_dir, table), gold_frame(work / "once", table), obj=table)


def test_weeks_that_may_hold_keys_come_from_key_statistics(tmp_path):
    """A week is searched for older versions of new keys unless its key statistics rule them all out."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.silver.merge import weeks_that_may_hold

    def week(name, ids, stats=True, row_group=None):
        folder = tmp_path / f"week_start={name}"
        folder.mkdir()
        pq.write_table(pa.table({"call_id": ids, "region_code": ["370102001000"] * len(ids)}),
                       folder / "part-0.parquet", write_statistics=stats, row_group_size=row_group)
        return dt.date.fromisoformat(name), folder

    parts = dict([
        week("2025-03-03", ["RX20250303001", "RX20250305002", "RX20250309003"]),
        # two row groups with a gap between them: RX20250312 falls in the gap
        week("2025-03-10", ["RX20250310001", "RX20250311002", "RX20250315001", "RX20250316002"], row_group=2),
        week("2025-03-17", ["RX20250317001", "RX20250320001"], stats=False),  # no statistics: always searched
        week("2025-03-24", ["RX20250324001", "RX20250330001"]),
    ])
    d = dt.date.fromisoformat
    # a correction of a call of 03-05 and a new call: the first week and the unreadable one
    assert weeks_that_may_hold(parts, "call_id", ["RX20250305002", "RX20250406001"]) == {d("2025-03-03"), d("2025-03-17")}
    # inside a row group's range (whether or not it is there) keeps the week; the gap between row groups does not
    assert weeks_that_may_hold(parts, "call_id", ["RX20250312009"]) == {d("2025-03-17")}
    assert weeks_that_may_hold(parts, "call_id", ["RX20250315500"]) == {d("2025-03-10"), d("2025-03-17")}
    assert weeks_that_may_hold(parts, "call_id", ["RX20250330001"]) == {d("2025-03-17"), d("2025-03-24")}
    assert weeks_that_may_hold(parts, "order_id", ["RX20250305002"]) == set(parts)  # no such column: all
    assert weeks_that_may_hold(parts, "call_id", []) == {d("2025-03-17")}
