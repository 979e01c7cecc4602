"""Write-audit-publish: staging folders, the atomic swap of a table, and recovery from a killed process.

A table is written to ``_staging`` first and swapped into place only after it is complete (and,
for silver, validated), so a crash mid-run leaves the previous version readable.

Crash safety (a process killed at any point, e.g. SIGKILL or the OOM killer):

- killed while writing: only its ``_staging/<name>~<host>~<pid>~<id>`` folder is incomplete; the
  next run removes staging folders whose process is gone (:func:`clean_stale_staging`);
- killed between the two renames of :func:`publish_directory`: the previous version waits as
  ``<table>.previous``; :func:`recover_interrupted_publish` (called by the writing stages before
  they read or publish a table, by :func:`fengqiao.lake.tables.read_table`, and by ``publish_directory``
  itself) puts it back. A per-table lock file (``.<table>.publish.lock`` beside the table) keeps a
  recovery from running between the two renames of a publish in progress;
- killed while replacing a bookkeeping file (a ledger, a marker, a state file):
  :func:`write_file_atomically` writes it beside and renames it over, so the old file or the new one is there.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from fengqiao.lake.paths import STAGING_HOST, Lake

# Staging folders of other machines (a shared lake) or of an older naming are removed only when this old.
STALE_STAGING_SECONDS = 24 * 3600


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_staging(lake: Lake) -> list[str]:
    """Remove staging folders left by processes that died (killed mid-write); return their names.

    Folders of live processes are kept: the three ingest DAGs may write at the same time. A folder
    of this host whose process id no longer runs is stale at once; others after a day.
    """
    removed: list[str] = []
    if not lake.staging.is_dir():
        return removed
    now = time.time()
    for entry in lake.staging.iterdir():
        parts = entry.name.rsplit("~", 3)
        stale = False
        if len(parts) == 4 and parts[2].isdigit():
            _, host, pid, _ = parts
            if host == STAGING_HOST:
                stale = int(pid) != os.getpid() and not _process_alive(int(pid))
            else:
                stale = now - entry.lstat().st_mtime > STALE_STAGING_SECONDS
        else:
            stale = now - entry.lstat().st_mtime > STALE_STAGING_SECONDS
        if stale:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if absent) for the block: one process at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish_lock(target: Path):
    """Exclusive lock of one table's publish/recovery (a hidden file beside the table)."""
    return exclusive_lock(target.parent / f".{target.name}.publish.lock")


def _recover_locked(target: Path) -> None:
    previous = target.with_name(target.name + ".previous")
    if previous.exists() and not target.exists():
        os.rename(previous, target)  # the publish died between its two renames: the old copy is whole
    elif previous.exists():
        shutil.rmtree(previous)      # the publish finished; only removing the old copy was cut short


def publish_directory(staged: Path, target: Path) -> None:
    """Swap a fully written directory into place.

    ``target`` is renamed aside, ``staged`` renamed into its place, then the old copy removed.
    Both renames are within one file system. If the process dies between the two renames the
    old copy is left as ``<target>.previous`` and :func:`recover_interrupted_publish` restores it
    (this function first does the same, so it never deletes the only whole copy).
    """
    with _publish_lock(target):
        _recover_locked(target)
        previous = target.with_name(target.name + ".previous")
        if target.exists():
            os.rename(target, previous)
        os.rename(staged, target)
        if previous.exists():
            shutil.rmtree(previous)


def recover_interrupted_publish(target: Path) -> None:
    """Put back the previous version of a table whose publish was interrupted between renames."""
    target = Path(target)
    if not target.with_name(target.name + ".previous").exists():
        return  # the common case: nothing to do, no lock taken
    with _publish_lock(target):
        _recover_locked(target)


def link_or_copy_tree(source: Path, destination: Path) -> None:
    """Recreate ``source`` (a folder, or a single file) at ``destination`` with hard links, else copies.

    Used to carry unchanged partitions (or files) of a table into its new staged version without
    rewriting them; files of a published table are never modified in place, so sharing inodes is safe.
    Hard links need one file system; across two, the files are copied.
    """
    source, destination = Path(source), Path(destination)
    if source.is_file():
        _link_or_copy(source, destination)
        return
    for folder, _dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        (destination / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            _link_or_copy(Path(folder) / name, destination / rel / name)


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def write_file_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Replace the file ``path`` whole: ``write(temp)`` fills a hidden file beside it, flushed to disk and
    renamed over ``path``, so a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_json_atomically(path: Path, document, **dumps_options) -> None:
    """:func:`write_file_atomically` of ``json.dumps(document, **dumps_options)`` as UTF-8."""
    text = json.dumps(document, **dumps_options)
    write_file_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))
