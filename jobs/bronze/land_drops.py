"""Bronze: copy delivered files into the lake unchanged, with a manifest of what landed.

Only day folders holding ``_READY`` are read (the upstream writes it last). ``truth/`` is never
touched. A file whose content (sha256) is already in the manifest for its feed is the same batch delivered
again under another name and is not landed twice, which also makes a re-run land nothing. Per feed, and never an
empty file: an empty export (a county with nothing that day) repeats no batch, and with the duplicate test across
feeds, which feed's empty file landed depended on which feed was landed first.

A file is copied under a hidden ``.<name>.partial`` name and renamed into place, and the manifest
is rewritten beside and renamed over, so a process killed mid-landing leaves no half file in
bronze; the next run lands what was not yet in the manifest. ``reland`` (``fengqiao backfill``)
forgets the manifest rows of the ready day folders in ``since``..``through`` and lands them again.

Only regular files are read. The drop is written by another system, so a feed folder, day folder or
file that is a symbolic link, a FIFO, a device or a socket is refused without being opened: every
folder is opened with ``O_NOFOLLOW`` relative to its parent's descriptor and every file with
``O_NOFOLLOW | O_NONBLOCK`` relative to its folder's, then checked with ``fstat``, so nothing can
resolve outside the drop (a link to ``/proc/self/environ`` would carry the pseudonym key into bronze)
and a link swapped in after the listing is refused too. Refused entries are counted, logged by their
drop-relative name, and recorded once in ``bronze/_refused.parquet`` (feed, day, name, reason).
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa

from fengqiao.lake import FEEDS, Lake, clean_stale_staging, publish_directory
from fengqiao.lake.bronze import add_to_manifest, manifest_lock, read_manifest, record_refused, write_manifest

READY_MARKER = "_READY"
SYMLINK_REFUSED = "symlink_refused"
NOT_REGULAR_REFUSED = "not_a_regular_file_refused"  # FIFO, device, socket
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO swapped in after the listing must not wait for a writer.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """A drop entry that is not read: ``reason`` is SYMLINK_REFUSED or NOT_REGULAR_REFUSED."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _kind(mode: int) -> str:
    """'dir', 'file', or the refusal reason of anything else (judged on lstat: links are not followed)."""
    if stat.S_ISLNK(mode):
        return SYMLINK_REFUSED
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else NOT_REGULAR_REFUSED


def _entries(dir_fd: int) -> list[tuple[str, str]]:
    """(name, kind) of a folder's entries, sorted by name, hidden ones left out."""
    out = []
    for name in sorted(os.listdir(dir_fd)):
        if name.startswith("."):
            continue
        try:
            out.append((name, _kind(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)))
        except FileNotFoundError:  # removed while listed
            continue
    return out


def _open_dir(name: str | Path, dir_fd: int | None = None) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused(SYMLINK_REFUSED if error.errno == errno.ELOOP else NOT_REGULAR_REFUSED) from None
        raise


def _open_regular(name: str, dir_fd: int) -> int:
    """A read descriptor of a regular file in ``dir_fd``, never through a link; Refused otherwise."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise Refused(SYMLINK_REFUSED) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(NOT_REGULAR_REFUSED)
    return fd


def _copy_hashing(fd: int, target: Path) -> tuple[str, int]:
    """Copy an open file to ``target``; return the sha256 and size of the bytes copied."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _day_of(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        return None


def _land_reference(source: Path, lake: Lake, refuse) -> int:
    """Copy the drop's reference/ folder (its regular files, sub-folders too) and swap it in whole."""
    try:
        root_fd = _open_dir(source)
    except FileNotFoundError:
        return 0
    try:
        try:
            ref_fd = _open_dir("reference", root_fd)
        except FileNotFoundError:
            return 0
        except Refused as refused:
            refuse("reference", "", "", refused.reason)
            return 0
        staged = lake.new_staging_path("reference")
        staged.mkdir(parents=True)
        try:
            copied = _copy_tree(ref_fd, staged, "", refuse)
        finally:
            os.close(ref_fd)
    finally:
        os.close(root_fd)
    publish_directory(staged, lake.reference)  # replaced whole, atomically
    return copied


def _copy_tree(dir_fd: int, target: Path, relative: str, refuse) -> int:
    copied = 0
    for name, kind in _entries(dir_fd):
        path = f"{relative}{name}"
        try:
            if kind == "dir":
                sub_fd = _open_dir(name, dir_fd)
                try:
                    (target / name).mkdir()
                    copied += _copy_tree(sub_fd, target / name, f"{path}/", refuse)
                finally:
                    os.close(sub_fd)
                continue
            if kind != "file":
                raise Refused(kind)
            fd = _open_regular(name, dir_fd)
            try:
                _copy_hashing(fd, target / name)
            finally:
                os.close(fd)
            copied += 1
        except Refused as refused:
            refuse("reference", "", path, refused.reason)
    return copied


def land_drops(source: Path, lake: Lake, through: date | None = None, log=print,
               feeds: tuple[str, ...] = FEEDS, since: date | None = None, reland: bool = False) -> dict:
    """Land every new file of every ready day folder (``since`` ≤ day ≤ ``through``) into bronze; return counts.

    The per-feed ingest DAGs may run at once: an exclusive lock on ``bronze/_manifest.lock`` makes
    each read-modify-write of the shared manifest (and the reference swap) one at a time.
    With ``reland`` the manifest rows (and bronze copies) of the ready day folders in the range are
    forgotten first, so those days land again; ``relanded_days`` lists them per feed.
    """
    with manifest_lock(lake):
        clean_stale_staging(lake)
        relanded: dict[str, list[str]] = {}
        if reland:
            relanded = _forget_days(Path(source), lake, since, through, feeds)
        counts = _land_locked(Path(source), lake, through, log, feeds, since)
        if reland:
            counts["relanded_days"] = relanded
        return counts


def _in_range(day: date, since: date | None, through: date | None) -> bool:
    return (since is None or day >= since) and (through is None or day <= through)


def _forget_days(source: Path, lake: Lake, since: date | None, through: date | None,
                 feeds: tuple[str, ...]) -> dict[str, list[str]]:
    """Drop the manifest rows and bronze copies of the ready source day folders in the range.

    Days whose source folder is missing or not ready are left as they are: a backfill pointed at
    an incomplete source never loses what bronze already holds. Linked folders are not looked into.
    """
    forget: dict[str, list[str]] = {}
    for feed in feeds:
        feed_dir = source / feed
        if feed_dir.is_symlink() or not feed_dir.is_dir():
            continue
        days = sorted(folder.name for folder in feed_dir.iterdir()
                      if not folder.is_symlink() and folder.is_dir() and (day := _day_of(folder)) is not None
                      and _in_range(day, since, through) and _is_regular(folder / READY_MARKER))
        if days:
            forget[feed] = days
    if not forget:
        return forget
    manifest = read_manifest(lake)
    keep = [not (row["feed"] in forget and row["day"] in forget[row["feed"]])
            for row in manifest.select(["feed", "day"]).to_pylist()]
    write_manifest(lake, manifest.filter(pa.array(keep, pa.bool_())))
    for feed, days in forget.items():
        for day in days:
            shutil.rmtree(lake.bronze(feed) / day, ignore_errors=True)
    return forget


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _land_locked(source: Path, lake: Lake, through: date | None, log, feeds: tuple[str, ...],
                 since: date | None = None) -> dict:
    manifest = read_manifest(lake)
    known_sha = set(zip(manifest.column("feed").to_pylist(), manifest.column("sha256").to_pylist()))
    known_paths = set(manifest.column("bronze_path").to_pylist())
    new_rows: list[dict] = []
    refused_rows: list[dict] = []
    per_feed = {feed: {"landed": 0, "already_landed": 0, "skipped_duplicate": 0, "skipped_not_ready": 0,
                       "refused": 0} for feed in feeds}

    def refuse(feed: str, day: str, name: str, why: str) -> None:
        refused_rows.append({"feed": feed, "day": day, "file_name": name, "reason": why,
                             "refused_at": datetime.now(timezone.utc)})
        if feed in per_feed:
            per_feed[feed]["refused"] += 1
        log(f"bronze: {'/'.join(p for p in (feed, day, name) if p)} refused ({why}); not read")

    # The drop's own path may pass through a link (a mount point); nothing below it may.
    root_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for feed in feeds:
            try:
                feed_fd = _open_dir(feed, root_fd)
            except FileNotFoundError:
                continue
            except Refused as refused:
                refuse(feed, "", "", refused.reason)
                continue
            try:
                for name, kind in _entries(feed_fd):
                    day = _day_of(Path(name))
                    if day is None or not _in_range(day, since, through):
                        continue
                    if kind != "dir":
                        refuse(feed, name, "", kind if kind != "file" else NOT_REGULAR_REFUSED)
                        continue
                    try:
                        day_fd = _open_dir(name, feed_fd)
                    except Refused as refused:  # replaced by a link after the listing
                        refuse(feed, name, "", refused.reason)
                        continue
                    try:
                        _land_day(lake, feed, name, day_fd, per_feed[feed], known_sha, known_paths, new_rows,
                                  refuse, log)
                    finally:
                        os.close(day_fd)
            finally:
                os.close(feed_fd)
    finally:
        os.close(root_fd)

    if new_rows:
        add_to_manifest(lake, manifest, new_rows)
    reference_files = _land_reference(source, lake, refuse)
    if refused_rows:
        record_refused(lake, refused_rows)
    keys = ("landed", "already_landed", "skipped_duplicate", "skipped_not_ready", "refused")
    totals = {key: sum(c[key] for c in per_feed.values()) for key in keys}
    totals["refused"] = len(refused_rows)  # reference files too
    log(f"bronze: landed {totals['landed']} files, {totals['skipped_duplicate']} duplicate batches, "
        f"{totals['skipped_not_ready']} files in folders not ready, {totals['refused']} entries refused "
        f"(links, FIFOs, devices); reference files: {reference_files}")
    return {**totals, "reference_files": reference_files, "per_feed": per_feed}


def _land_day(lake: Lake, feed: str, day: str, day_fd: int, counts: dict, known_sha: set, known_paths: set,
              new_rows: list, refuse, log) -> None:
    """Land the files of one day folder (opened as ``day_fd``) if it is ready."""
    entries = _entries(day_fd)
    ready = (READY_MARKER, "file") in entries
    files = [(name, kind) for name, kind in entries if name != READY_MARKER and kind != "dir"]
    if not ready:
        counts["skipped_not_ready"] += len(files)
        return
    for name, kind in files:
        bronze_path = (Path("bronze") / feed / day / name).as_posix()
        if kind != "file":
            refuse(feed, day, name, kind)
            continue
        if bronze_path in known_paths:
            counts["already_landed"] += 1
            continue
        try:
            fd = _open_regular(name, day_fd)
        except Refused as refused:  # replaced by a link or a FIFO after the listing
            refuse(feed, day, name, refused.reason)
            continue
        target = lake.root / bronze_path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        try:
            sha, size = _copy_hashing(fd, partial)  # one read: the copy is exactly what was hashed
        finally:
            os.close(fd)
        if size and (feed, sha) in known_sha:
            partial.unlink()
            counts["skipped_duplicate"] += 1
            log(f"bronze: {feed}/{day}/{name} repeats a landed batch; not landed again")
            continue
        os.replace(partial, target)     # never a half file under the real name
        known_sha.add((feed, sha))
        known_paths.add(bronze_path)
        counts["landed"] += 1
        new_rows.append({"feed": feed, "day": day, "file_name": name, "bronze_path": bronze_path,
                         "sha256": sha, "bytes": size, "landed_at": datetime.now(timezone.utc)})
