"""The silver audit's record of validated partitions: ``<lake>/_quality/validated.json``.

Per silver table, the sha256 of its suite file and, per ``week_start=`` partition that passed, a
fingerprint of the partition's files (:func:`fengqiao.lake.partitions.tree_fingerprint`). Publishes
rewrite only the weeks that changed and hard-link the others, so an untouched week keeps its
fingerprint and need not be validated again. The silver jobs (write-audit-publish) and the audit stage
may record at the same time: every read-modify-write holds :func:`state_lock`.
"""
from __future__ import annotations

import json
from pathlib import Path

from fengqiao.lake.partitions import tree_fingerprint
from fengqiao.lake.paths import Lake
from fengqiao.lake.publish import exclusive_lock, write_json_atomically

STATE_VERSION = 1


def state_path(lake: Lake) -> Path:
    return lake.quality / "validated.json"


def read_state(lake: Lake) -> dict:
    """{table: {"suite_sha256", "partitions": {folder name: fingerprint}}}; empty when absent or unreadable
    (then everything is validated again, which is always safe)."""
    try:
        document = json.loads(state_path(lake).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
        return {}
    return document.get("tables") or {}


def write_state(lake: Lake, tables: dict) -> None:
    """Replace the state file whole: a crash leaves the old state or the new one."""
    write_json_atomically(state_path(lake), {"version": STATE_VERSION, "tables": tables}, ensure_ascii=False,
                          indent=1, sort_keys=True)


def state_lock(lake: Lake):
    """The three silver jobs and the audit stage may record partitions at the same time."""
    return exclusive_lock(state_path(lake).with_name(".validated.lock"))


def record_validated(lake: Lake, table: str, names, suite_sha256: str) -> None:
    """Add published partitions ``names`` of silver ``table`` that passed its suite (of digest
    ``suite_sha256``) at publish time, so that the audit stage does not check the same files again.
    Partitions recorded under another version of the suite are forgotten."""
    with state_lock(lake):
        state = read_state(lake)
        entry = state.get(table) or {}
        partitions = dict(entry.get("partitions") or {}) if entry.get("suite_sha256") == suite_sha256 else {}
        for name in names:
            fingerprint = tree_fingerprint(lake.silver(table) / name)
            if fingerprint is not None:
                partitions[name] = fingerprint
        state[table] = {"suite_sha256": suite_sha256, "partitions": partitions}
        write_state(lake, state)
