"""Per-bureau keys: each justice bureau (司法局) or office (司法所) signs its dispositions with its own key,
bound to its county, so that one bureau can neither pass for another nor answer another county's alerts.

The key file (``FENGQIAO_BUREAU_KEYS``, default ``<FENGQIAO_HOME>/secrets/bureau_keys.csv``) is a CSV readable
by its owner only (mode 0600; a file others can read is refused):

    key_id,bureau_id,county_code,key,issued_at,revoked_at

``bureau_id`` is the bureau's region code in ``reference/bureaus.csv`` (a county, or a township for a 司法所);
``county_code`` its county. ``key`` is 64 hex characters; the HMAC key is that text's ASCII bytes.

The province issues and rotates keys with this module (see docs/bureaus.md)::

    python -m fengqiao.delivery.bureau_keys issue 370102000000      # prints key_id and key once
    python -m fengqiao.delivery.bureau_keys list                    # never prints keys
    python -m fengqiao.delivery.bureau_keys revoke <key_id>

Rotation: issue a new key (both are valid), hand it over, then revoke the old one.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hmac
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from fengqiao.core.keys import readable_by_others
from fengqiao.core.regions import county_of, is_valid_code
from fengqiao.core.settings import Settings

from .webhooks import sign

COLUMNS = ["key_id", "bureau_id", "county_code", "key", "issued_at", "revoked_at"]
KEY_ID_HEADER = "X-Fengqiao-Key-Id"
_KEY_ID = re.compile(r"[a-z0-9]{12}")


class KeyFileError(ValueError):
    """The bureau key file is missing, unreadable, readable by others, or malformed."""


@dataclass(frozen=True)
class BureauKey:
    key_id: str
    bureau_id: str
    county_code: str
    key: str
    issued_at: str
    revoked_at: str = ""

    @property
    def active(self) -> bool:
        return not self.revoked_at


def load_keys(path: str | Path | None) -> dict[str, BureauKey]:
    """Every key of the file (revoked ones too) by ``key_id``."""
    if path is None:
        raise KeyFileError("no bureau key file configured (FENGQIAO_BUREAU_KEYS)")
    path = Path(path)
    if not path.exists():
        raise KeyFileError(f"no bureau key file at {path}: issue keys with "
                           "`python -m fengqiao.delivery.bureau_keys issue <bureau region code>` (FENGQIAO_BUREAU_KEYS)")
    mode = readable_by_others(path)
    if mode is not None:
        raise KeyFileError(f"{path} is readable by others (mode {mode:o}): `chmod 600 {path}`")
    keys = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or set(COLUMNS) - set(reader.fieldnames):
            raise KeyFileError(f"{path}: expected the columns {','.join(COLUMNS)}")
        for row in reader:
            key = BureauKey(**{c: (row.get(c) or "").strip() for c in COLUMNS})
            if not _KEY_ID.fullmatch(key.key_id) or len(key.key) < 32 or county_of(key.bureau_id) != key.county_code:
                raise KeyFileError(f"{path} line {reader.line_num}: malformed key row (key {key.key_id!r})")
            keys[key.key_id] = key
    return keys


def _write(path: Path, keys: dict[str, BureauKey]) -> None:
    """Atomically, created 0600 (the temporary file never exists with wider rights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key in keys.values():
        writer.writerow([getattr(key, c) for c in COLUMNS])
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(buffer.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def issue_key(bureau_id: str, path: str | Path) -> BureauKey:
    """A new key for the bureau with region code ``bureau_id`` (its county is derived from the code)."""
    bureau_id = str(bureau_id).strip()
    if not is_valid_code(bureau_id) or bureau_id[9:] != "000" or bureau_id[4:6] == "00":
        raise ValueError(f"{bureau_id!r} is not a county or township region code (12 digits)")
    path = Path(path)
    keys = load_keys(path) if path.exists() else {}
    key = BureauKey(key_id=secrets.token_hex(6), bureau_id=bureau_id, county_code=county_of(bureau_id),
                    key=secrets.token_hex(32), issued_at=_now())
    keys[key.key_id] = key
    _write(path, keys)
    return key


def revoke_key(key_id: str, path: str | Path) -> BureauKey:
    path = Path(path)
    keys = load_keys(path)
    if key_id not in keys:
        raise KeyError(f"no key {key_id!r} in {path}")
    keys[key_id] = BureauKey(**{**keys[key_id].__dict__, "revoked_at": keys[key_id].revoked_at or _now()})
    _write(path, keys)
    return keys[key_id]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# --- signatures -------------------------------------------------------------------------------------
def request_signature(key: str, timestamp: str | int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over ``<timestamp>.<body>`` (a webhook disposition)."""
    return sign(str(timestamp).encode("ascii") + b"." + body, key)


def file_signature(key: str, content: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over the exact bytes of a dispositions file."""
    return sign(content, key)


def same_signature(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Issue, list and revoke the bureaus' disposition keys.")
    parser.add_argument("--file", default=None, help="key file (default FENGQIAO_BUREAU_KEYS)")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a new key for a bureau (printed once)")
    issue.add_argument("bureau_id", help="the bureau's region code in reference/bureaus.csv")
    sub.add_parser("list", help="list keys (without the secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    args.file = args.file or Settings.from_env().bureau_keys_file  # this entry point builds the settings
    if args.command == "issue":
        key = issue_key(args.bureau_id, args.file)
        print(f"key_id: {key.key_id}\nbureau_id: {key.bureau_id}\ncounty_code: {key.county_code}\nkey: {key.key}")
        print("Hand the key to the bureau over a trusted channel; it is not shown again.")
    elif args.command == "list":
        for key in load_keys(args.file).values():
            print(f"{key.key_id}  {key.bureau_id}  {key.county_code}  issued {key.issued_at}"
                  + (f"  revoked {key.revoked_at}" if key.revoked_at else "  active"))
    else:
        key = revoke_key(args.key_id, args.file)
        print(f"{key.key_id} revoked at {key.revoked_at}")


if __name__ == "__main__":
    main()
