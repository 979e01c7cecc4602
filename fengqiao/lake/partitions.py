"""Week partitions of a table and fingerprints of what is on disk: how stages notice what changed.

Every publish writes new files (Spark names them with a random id) and hard-links the partitions it
did not rewrite (same name, size and mtime), so a fingerprint of a folder's files tells whether a
table, or one week of it, is the one seen before.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

PARTITION_PREFIX = "week_start="


def tree_fingerprint(path: Path) -> str | None:
    """A digest of a table folder's files (relative path, size, mtime); None if it does not exist.

    Every publish writes new files (Spark names them with a random id), so a changed table changes
    its fingerprint; an untouched one keeps it. Used by stages to notice that their input is unchanged.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                continue
            stat = (Path(folder) / name).stat()
            rel = (Path(folder) / name).relative_to(path).as_posix()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def week_of_partition(name: str) -> dt.date | None:
    """The Monday of a ``week_start=YYYY-MM-DD`` partition folder name; None for any other name
    (another column, or Hive's null partition)."""
    column, _, value = name.partition("=")
    if column != "week_start":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def week_partitions(path: str | os.PathLike) -> dict[str, Path]:
    """The ``week_start=`` partition folders of a table, by folder name, sorted; empty when there is no table.

    Hive's null partition (``week_start=__HIVE_DEFAULT_PARTITION__``) is one of them; its
    :func:`week_of_partition` is None.
    """
    return {p.name: p for p in sorted(Path(path).glob(f"{PARTITION_PREFIX}*")) if p.is_dir()}


def partition_fingerprints(path: Path) -> dict[str, str]:
    """:func:`tree_fingerprint` of each ``<column>=<value>`` partition folder of a table, by folder name.

    Publishes rewrite only the partitions that changed and hard-link the others (same name, size and
    mtime), so comparing two of these maps tells which partitions (weeks) a publish touched.
    An absent table gives an empty map.
    """
    path = Path(path)
    if not path.is_dir():
        return {}
    return {p.name: tree_fingerprint(p) for p in sorted(path.iterdir()) if p.is_dir() and "=" in p.name}


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, read in 1 MiB chunks (bronze files can be large); None if it is absent."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
