"""What a bureau does to answer an alert, written as a bureau's own script would (hmac, urllib): sign a
disposition POST or a dispositions file with its key. Shared by the acknowledgement tests."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from pathlib import Path


def signature(key: str, message: bytes) -> str:
    return "sha256=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_request(url: str, payload: dict | bytes, key_id: str, key: str,
                   timestamp: int | None = None) -> urllib.request.Request:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Fengqiao-Key-Id": key_id, "X-Fengqiao-Timestamp": stamp,
        "X-Fengqiao-Signature": signature(key, stamp.encode("ascii") + b"." + body)})


def send(request: urllib.request.Request) -> tuple[int, dict]:
    """(HTTP status, JSON answer) of one request to the loopback receiver."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def post(url: str, payload: dict | bytes, key_id: str, key: str, timestamp: int | None = None) -> tuple[int, dict]:
    return send(signed_request(url, payload, key_id, key, timestamp))


def drop_file(folder: Path, name: str, text: str, key_id: str | None = None, key: str | None = None,
              encoding: str = "utf-8") -> Path:
    """Write a dispositions file and, when a key is given, its ``.sig`` next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    content = text.encode(encoding)
    path.write_bytes(content)
    if key is not None:
        (folder / f"{name}.sig").write_text(f"key_id: {key_id}\nsignature: {signature(key, content)}\n",
                                            encoding="utf-8")
    return path
