"""Bronze landing: only ready folders, unchanged copies, a manifest, duplicates and re-runs land nothing."""
from __future__ import annotations

import hashlib
from datetime import date

import pyarrow.parquet as pq

from fengqiao.lake import Lake
from jobs.bronze.land_drops import land_drops
from drop_builder import write_drop


def test_land_drops(tmp_path):
    source, lake = write_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake")
    logs: list[str] = []
    counts = land_drops(source, lake, log=logs.append)

    assert counts["landed"] == 9
    assert counts["per_feed"]["hotline"] == {"landed": 2, "already_landed": 0, "skipped_duplicate": 1,
                                             "skipped_not_ready": 1, "refused": 0}
    # Not ready: 2025-03-05 of hotline has no _READY.
    assert not (lake.bronze("hotline") / "2025-03-05").exists()
    # The batch delivered again under another name is not landed twice.
    assert not (lake.bronze("hotline") / "2025-03-04" / "calls-a-resent.jsonl").exists()
    landed = lake.bronze("mediation") / "2025-03-04" / "cases-1.csv"
    assert landed.read_bytes() == (source / "mediation" / "2025-03-04" / "cases-1.csv").read_bytes()
    assert (lake.reference / "regions.csv").exists()
    assert not any("truth" in p.parts for p in lake.root.rglob("*"))

    manifest = pq.read_table(lake.bronze_manifest).to_pylist()
    assert len(manifest) == 9
    row = next(r for r in manifest if r["file_name"] == "cases-1.csv")
    assert row["bronze_path"] == "bronze/mediation/2025-03-04/cases-1.csv"
    assert row["sha256"] == hashlib.sha256(landed.read_bytes()).hexdigest()
    assert row["bytes"] == landed.stat().st_size and row["feed"] == "mediation" and row["day"] == "2025-03-04"
    assert all(str(tmp_path) not in line for line in logs)

    again = land_drops(source, lake, log=logs.append)
    assert again["landed"] == 0 and again["already_landed"] == 9
    assert len(pq.read_table(lake.bronze_manifest)) == 9


def test_through_limits_days_and_ready_folder_lands_later(tmp_path):
    source, lake = write_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake")
    first = land_drops(source, lake, through=date(2025, 3, 3), log=lambda _: None)
    assert first["landed"] == 3  # one file per feed on 2025-03-03 (+ empty orders-2.csv), no mediation yet
    (source / "hotline" / "2025-03-05" / "_READY").write_bytes(b"")
    later = land_drops(source, lake, log=lambda _: None)
    assert later["per_feed"]["hotline"]["landed"] == 2  # calls-b.jsonl.gz and the now-ready calls-c.jsonl
    assert (lake.bronze("hotline") / "2025-03-05" / "calls-c.jsonl").exists()


def test_duplicates_are_per_feed_and_an_empty_export_is_never_one(tmp_path):
    """The same bytes in two feeds are two deliveries; empty exports of other days are deliveries too (which of
    them landed once depended on which feed was landed first); a batch sent again in its own feed is not."""
    source, lake = tmp_path / "drop", Lake.at(tmp_path / "lake")
    batch = b'{"call_id": "C1"}\n'
    files = {("hotline", "2025-03-03", "calls-1.jsonl"): batch, ("hotline", "2025-03-04", "calls-1-again.jsonl"): batch,
             ("workorders", "2025-03-03", "same-bytes.jsonl"): batch,
             ("hotline", "2025-03-03", "calls-empty.jsonl"): b"", ("hotline", "2025-03-04", "calls-empty.jsonl"): b"",
             ("workorders", "2025-03-03", "orders-empty.csv"): b""}
    for (feed, day, name), content in files.items():
        (source / feed / day).mkdir(parents=True, exist_ok=True)
        (source / feed / day / name).write_bytes(content)
        (source / feed / day / "_READY").write_bytes(b"")
    for feeds in (("workorders", "hotline"), ("hotline", "workorders")):  # either order, the same files land
        lake = Lake.at(tmp_path / f"lake-{feeds[0]}")
        counts = land_drops(source, lake, feeds=feeds, log=lambda _: None)
        assert counts["per_feed"]["hotline"]["landed"] == 3 and counts["per_feed"]["hotline"]["skipped_duplicate"] == 1
        assert counts["per_feed"]["workorders"]["landed"] == 2 and counts["per_feed"]["workorders"]["skipped_duplicate"] == 0
        assert not (lake.bronze("hotline") / "2025-03-04" / "calls-1-again.jsonl").exists()
        assert (lake.bronze("hotline") / "2025-03-04" / "calls-empty.jsonl").exists()
        assert (lake.bronze("workorders") / "2025-03-03" / "orders-empty.csv").exists()
        assert land_drops(source, lake, feeds=feeds, log=lambda _: None)["landed"] == 0  # a re-run lands nothing
