"""Dispositions dropped as signed CSV files: reading a file's bytes and checking its signature.

A file has the columns ``alert_id,disposition,disposed_at,note`` (UTF-8 or GB18030; the Chinese headers
确认编号, 处置结果, 处置时间, 备注 are accepted too) and a detached signature ``<file>.csv.sig``::

    key_id: <the bureau's key id>
    signature: sha256=<HMAC-SHA256 of the file's exact bytes under the bureau's key>

Pure: the file's name, bytes and signature text in; records, the signing key, or the rows to hold for
review out. The intake job (``jobs/gold/alert_dispositions.py``) lists the folder, stores what is validly
signed and holds the rest.
"""
from __future__ import annotations

import hashlib
import io

import pandas as pd

from .bureau_keys import BureauKey, file_signature, same_signature
from .dispositions import DispositionRejected, masked_note, shown

HEADER_ALIASES = {"确认编号": "alert_id", "回复确认编号": "alert_id", "预警编号": "alert_id",
                  "处置结果": "disposition", "处置情况": "disposition", "核查结果": "disposition",
                  "处置时间": "disposed_at", "处置日期": "disposed_at", "备注": "note", "说明": "note"}
REQUIRED = ("alert_id", "disposition", "disposed_at")
HELD_COLUMNS = ["held_at", "file", "line", "file_sha256", "reason", "alert_id", "disposition", "disposed_at",
                "note_masked"]


def signature_name(name: str) -> str:
    """The name of the signature file that belongs to the dispositions file ``name``."""
    return f"{name}.sig"


def _read_csv(content: bytes) -> pd.DataFrame:
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding=encoding,
                               skipinitialspace=True)
        except UnicodeDecodeError as exc:
            last = exc
    raise DispositionRejected(f"cannot decode the file as UTF-8 or GB18030: {last}")


def _signature_of(text: str) -> tuple[str, str]:
    """(key_id, signature) from a ``.sig`` file of ``key_id: …`` and ``signature: sha256=…`` lines."""
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields.get("key_id", ""), fields.get("signature", "")


def file_key(name: str, content: bytes, signature_text: str | None,
             keys: dict[str, BureauKey]) -> tuple[BureauKey | None, str]:
    """The key that validly signed the file ``name`` (and ""), or None and why the file is held.

    ``signature_text``: the content of its ``.sig`` file, None when there is none."""
    sig_name = signature_name(name)
    if signature_text is None:
        return None, f"unsigned: no {sig_name} next to the file"
    key_id, signature = _signature_of(signature_text)
    key = keys.get(key_id)
    if key is None or not key.active:
        return None, f"signed with an unknown or revoked key {shown(key_id)!r}"
    if not same_signature(file_signature(key.key, content), signature):
        return None, f"signature in {sig_name} does not match the file (altered, or another key)"
    return key, ""


def file_records(name: str, content: bytes) -> tuple[list[tuple[str, int, dict]], str | None]:
    """(where, line, record) per non-blank data line of the file ``name`` (its bytes as they were checked
    against the signature), or a reason the file cannot be read."""
    try:
        df = _read_csv(content)
    except (DispositionRejected, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return [], f"file not read: {exc}"
    df = df.rename(columns=lambda c: HEADER_ALIASES.get(str(c).strip(), str(c).strip().lower()))
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        return [], f"file not read: missing columns {missing} (expected alert_id,disposition,disposed_at,note)"
    out = []
    for line_no, record in enumerate(df.to_dict("records"), start=2):
        if any(str(v).strip() for v in record.values()):
            out.append((f"{name}:{line_no}", line_no, record))
    return out, None


def held_rows(name: str, content: bytes, reason: str) -> list[dict]:
    """The rows (``HELD_COLUMNS``) that put the file ``name`` on the review list: one per data line, values
    masked and shortened; one row for the whole file when it cannot be read."""
    records, problem = file_records(name, content)
    base = {"held_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"), "file": name,
            "file_sha256": hashlib.sha256(content).hexdigest(), "reason": reason}
    if problem:
        return [{**base, "line": 0, "reason": f"{reason}; {problem}", "alert_id": None, "disposition": None,
                 "disposed_at": None, "note_masked": None}]
    return [{**base, "line": line, "alert_id": shown(r.get("alert_id")), "disposition": shown(r.get("disposition")),
             "disposed_at": shown(r.get("disposed_at")), "note_masked": masked_note(r.get("note"))}
            for _, line, r in records]
