"""Landing reads regular files of the drop only: links, FIFOs and linked folders are refused unread.

A drop is written by another system. A link in it to /etc/passwd or /proc/self/environ (which holds
the pseudonym key and the SMTP password) must never be copied into bronze, nor a folder outside the
drop be landed through a linked day folder, nor a FIFO hang the landing.
"""
from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from drop_builder import write_drop
from fengqiao.lake import Lake
from fengqiao.lake.bronze import read_refused
from jobs.bronze import land_drops as B

SECRET = "FENGQIAO_SECRET_OUTSIDE_THE_DROP"


@pytest.fixture()
def hostile(tmp_path):
    """write_drop's drop plus links and a FIFO beside its good files, and a secret folder outside it."""
    source = write_drop(tmp_path / "drop")
    outside = tmp_path / "outside"
    (outside / "day").mkdir(parents=True)
    (outside / "secret.csv").write_text(f"order_id\n{SECRET}\n", encoding="utf-8")
    (outside / "day" / "calls-x.jsonl").write_text(f'{{"call_id": "{SECRET}"}}\n', encoding="utf-8")
    (outside / "day" / "_READY").write_bytes(b"")
    (source / "hotline" / "2025-03-03" / "passwd.jsonl").symlink_to("/etc/passwd")
    (source / "hotline" / "2025-03-03" / "environ.jsonl").symlink_to("/proc/self/environ")
    (source / "hotline" / "2025-03-06").symlink_to(outside / "day", target_is_directory=True)
    # relative: resolves out of the drop by walking up from the day folder
    (source / "workorders" / "2025-03-03" / "orders-escape.csv").symlink_to("../../../outside/secret.csv")
    regions = source / "reference" / "regions.csv"
    regions.rename(outside / "regions.csv")
    regions.symlink_to(outside / "regions.csv")
    os.mkfifo(source / "mediation" / "2025-03-04" / "cases-pipe.csv")
    return source, outside


REFUSED = {
    ("hotline", "2025-03-03", "passwd.jsonl", B.SYMLINK_REFUSED),
    ("hotline", "2025-03-03", "environ.jsonl", B.SYMLINK_REFUSED),
    ("hotline", "2025-03-06", "", B.SYMLINK_REFUSED),
    ("workorders", "2025-03-03", "orders-escape.csv", B.SYMLINK_REFUSED),
    ("mediation", "2025-03-04", "cases-pipe.csv", B.NOT_REGULAR_REFUSED),
    ("reference", "", "regions.csv", B.SYMLINK_REFUSED),
}


def test_links_and_fifos_are_refused_recorded_and_never_opened(hostile, tmp_path, monkeypatch):
    source, outside = hostile
    lake = Lake.at(tmp_path / "lake")
    opened: list[str] = []
    real_open = os.open

    def recording_open(path, flags, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    logs: list[str] = []
    counts = B.land_drops(source, lake, log=logs.append)

    refused_names = {name for _, day, name, _ in REFUSED if name} | {"2025-03-06"}
    assert not refused_names & {os.path.basename(p) for p in opened}, "a refused entry was opened"
    recorded = {(r["feed"], r["day"], r["file_name"], r["reason"]) for r in read_refused(lake).to_pylist()}
    assert recorded == REFUSED
    assert counts["refused"] == len(REFUSED)
    assert counts["per_feed"]["hotline"]["refused"] == 3 and counts["per_feed"]["mediation"]["refused"] == 1
    assert any("hotline/2025-03-03/environ.jsonl refused (symlink_refused)" in line for line in logs)
    assert all(str(tmp_path) not in line for line in logs)

    # Nothing from outside the drop, nor from the system files, is in the lake.
    for path in lake.root.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert SECRET.encode() not in content and b"root:" not in content, path
    assert not (lake.bronze("hotline") / "2025-03-06").exists()
    assert not (lake.reference / "regions.csv").exists()

    # The good files of the same days landed as before; the manifest names none of the refused entries.
    assert counts["landed"] == 9
    assert (lake.bronze("hotline") / "2025-03-03" / "calls-a.jsonl").read_bytes() == \
        (source / "hotline" / "2025-03-03" / "calls-a.jsonl").read_bytes()
    assert (lake.bronze("workorders") / "2025-03-03" / "orders-1.csv").is_file()
    assert (lake.bronze("mediation") / "2025-03-04" / "cases-1.csv").is_file()
    assert (lake.reference / "bureaus.csv").is_file()
    manifest_names = set(pq.read_table(lake.bronze_manifest).column("file_name").to_pylist())
    assert not manifest_names & refused_names

    # A re-run refuses the same entries again without recording them twice, and lands nothing new.
    again = B.land_drops(source, lake, log=lambda _: None)
    assert again["landed"] == 0 and again["refused"] == len(REFUSED)
    assert len(read_refused(lake)) == len(REFUSED)


def test_a_link_swapped_in_after_the_listing_is_refused(tmp_path, monkeypatch):
    """The check is made on the opened descriptor (O_NOFOLLOW), not only on the listing."""
    source, lake = write_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake")
    day = source / "hotline" / "2025-03-03"
    real_entries = B._entries

    def entries_then_swap(dir_fd):
        listed = real_entries(dir_fd)
        if ("calls-a.jsonl", "file") in listed:
            (day / "calls-a.jsonl").unlink()
            (day / "calls-a.jsonl").symlink_to("/etc/passwd")
        return listed

    monkeypatch.setattr(B, "_entries", entries_then_swap)
    counts = B.land_drops(source, lake, log=lambda _: None)
    assert ("hotline", "2025-03-03", "calls-a.jsonl", B.SYMLINK_REFUSED) in {
        (r["feed"], r["day"], r["file_name"], r["reason"]) for r in read_refused(lake).to_pylist()}
    assert not (lake.bronze("hotline") / "2025-03-03" / "calls-a.jsonl").exists()
    assert counts["per_feed"]["hotline"]["refused"] == 1


def test_regions_reader_refuses_a_link(tmp_path):
    from fengqiao.core.regions import read_regions

    source = write_drop(tmp_path / "drop")
    link = tmp_path / "regions-link.csv"
    link.symlink_to(source / "reference" / "regions.csv")
    assert len(read_regions(source / "reference" / "regions.csv")) > 0
    with pytest.raises(ValueError, match="not a regular file"):
        read_regions(link)
