"""The acknowledgement receiver: a small HTTP server for dispositions sent by signed webhook.

It accepts ``POST /ack`` with the JSON ``{alert_id, disposition, disposed_at, note}`` and the headers
``X-Fengqiao-Key-Id``, ``X-Fengqiao-Timestamp`` (Unix seconds, within ±5 minutes of the receiver's clock)
and ``X-Fengqiao-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<raw body>">`` under the bureau's own key
(:mod:`fengqiao.delivery.bureau_keys`). Each accepted signature is written to a :class:`ReplayLedger`
before the disposition is processed: the same request sent again, also after a restart, is refused (409).

This module handles requests only; it never opens the lake. What an authenticated disposition becomes is
decided by the ``sink`` given to :func:`make_ack_server` (dependency injection): the entry point
``python -m jobs.gold.ack_receiver`` passes one that validates and stores into gold/alert_dispositions, and
keeps the ledger in the lake. The server stays here, with the network code, so that the HTTP handling can be
tested and reused without a lake; the job layer only wires it to the lake.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from fengqiao.core.bureaus import is_loopback

from .bureau_keys import KEY_ID_HEADER, BureauKey, KeyFileError, load_keys, request_signature, same_signature
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
TIMESTAMP_TOLERANCE_SECONDS = 300

# (the JSON record, the key that signed it) -> a result with ``stored``, ``rejected``, ``forbidden`` (of the
# rejected: alerts of another county) and ``rejections`` (``{"where", "reason"}``).
DispositionSink = Callable[[dict, BureauKey], dict]


class ReplayLedger:
    """Signatures of accepted requests, in a file, so that a replay is refused also after a restart.

    Entries older than twice the timestamp tolerance are dropped when the file is rewritten: such a
    request would be refused for its stale timestamp anyway."""

    def __init__(self, path: Path, tolerance_seconds: int = TIMESTAMP_TOLERANCE_SECONDS):
        self.path = Path(path)
        self.tolerance = tolerance_seconds
        self._lock = threading.Lock()

    def _entries(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        out = {}
        for line in self.path.read_text(encoding="ascii", errors="replace").splitlines():
            stamp, _, signature = line.partition(" ")
            if signature and stamp.lstrip("-").isdigit():
                out[signature] = int(stamp)
        return out

    def first_use(self, signature: str, timestamp: int, now: float) -> bool:
        """Record ``signature``; False when it was recorded before (a replay)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._entries()
            if signature in entries:
                return False
            live = {s: t for s, t in entries.items() if t >= now - 2 * self.tolerance}
            if len(live) < len(entries):
                self._rewrite({**live, signature: timestamp})
            else:
                with open(self.path, "a", encoding="ascii") as fh:
                    fh.write(f"{timestamp} {signature}\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            return True

    def _rewrite(self, entries: dict[str, int]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.writelines(f"{t} {s}\n" for s, t in entries.items())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class _AckHandler(BaseHTTPRequestHandler):
    server_version = "fengqiao-ack/1"
    sink: DispositionSink
    keys_path: Path
    ledger: ReplayLedger
    clock = staticmethod(time.time)

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if urlsplit(self.path).path == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        elif urlsplit(self.path).path.rstrip("/") == "/ack":
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST a signed JSON disposition to /ack"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found; POST /ack"})

    def do_POST(self):  # noqa: N802
        if urlsplit(self.path).path.rstrip("/") != "/ack":
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found; POST /ack"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        body = self.rfile.read(length)
        key, problem = self._authenticate(body)
        if key is None:
            status = HTTPStatus.CONFLICT if problem.startswith("replay") else HTTPStatus.UNAUTHORIZED
            log.warning("acknowledgement refused from %s: %s", self.address_string(), problem)
            self._reply(status, {"error": problem})
            return
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "body is not UTF-8 JSON"})
            return
        if not isinstance(record, dict):
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"})
            return
        try:
            result = self.sink(record, key)
        except Exception:  # noqa: BLE001 (answer the caller; the details go to the log)
            log.exception("acknowledgement could not be stored")
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "could not store the disposition; sign and "
                                                         "send it again with a new timestamp"})
            return
        if result["rejected"]:
            status = HTTPStatus.FORBIDDEN if result["forbidden"] else HTTPStatus.UNPROCESSABLE_ENTITY
            self._reply(status, {"status": "rejected", "error": result["rejections"][0]["reason"]})
        else:
            self._reply(HTTPStatus.OK, {"status": "stored" if result["stored"] else "duplicate",
                                        "alert_id": str(record.get("alert_id")).strip()})

    def _authenticate(self, body: bytes) -> tuple[BureauKey | None, str]:
        """The bureau key that signed this request, or None and why it is refused."""
        key_id = (self.headers.get(KEY_ID_HEADER) or "").strip()
        stamp = (self.headers.get(TIMESTAMP_HEADER) or "").strip()
        signature = (self.headers.get(SIGNATURE_HEADER) or "").strip()
        if not (key_id and stamp and signature):
            return None, (f"missing {KEY_ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} "
                          "(sha256=<HMAC-SHA256 of '<timestamp>.<raw body>' under your bureau key>)")
        if not re.fullmatch(r"\d{1,12}", stamp):
            return None, f"{TIMESTAMP_HEADER} must be Unix seconds"
        now = self.clock()
        if abs(now - int(stamp)) > TIMESTAMP_TOLERANCE_SECONDS:
            return None, (f"{TIMESTAMP_HEADER} is more than {TIMESTAMP_TOLERANCE_SECONDS // 60} minutes from the "
                          "receiver's clock: sign the request again with the current time")
        try:
            key = load_keys(self.keys_path).get(key_id)
        except KeyFileError:
            log.exception("bureau key file unreadable")
            return None, "the receiver cannot read its bureau keys"
        if key is None or not key.active or not same_signature(request_signature(key.key, stamp, body), signature):
            return None, f"invalid {SIGNATURE_HEADER} for this key id, timestamp and body"
        if not self.ledger.first_use(signature, int(stamp), now):
            return None, "replayed request: this signature was already received"
        return key, ""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name); no bodies in logs
        log.info("ack receiver %s: %s", self.address_string(), format % args)


def make_ack_server(host: str, port: int, sink: DispositionSink, ledger: ReplayLedger,
                    keys_path: str | Path, alert_signing_key: str | None) -> ThreadingHTTPServer:
    """A bound (not yet serving) receiver handing authenticated dispositions to ``sink``; ``port`` 0 picks a
    free port (``server.server_address``). ``keys_path`` and ``alert_signing_key`` default to
    FENGQIAO_BUREAU_KEYS and FENGQIAO_WEBHOOK_KEY.

    Refuses to start without an active bureau key, or when a bureau key is the alert signing key."""
    keys_path = Path(keys_path)
    keys = load_keys(keys_path)
    if not any(k.active for k in keys.values()):
        raise KeyFileError(f"{keys_path} holds no active bureau key (FENGQIAO_BUREAU_KEYS)")
    if alert_signing_key and any(k.key == alert_signing_key for k in keys.values()):
        raise KeyFileError("a bureau key equals the alert signing key FENGQIAO_WEBHOOK_KEY: use separate keys")
    # staticmethod: a plain function stored on the class would otherwise be bound to the handler.
    handler = type("AckHandler", (_AckHandler,), {"sink": staticmethod(sink), "keys_path": keys_path,
                                                  "ledger": ledger})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(server: ThreadingHTTPServer, background: bool = False) -> ThreadingHTTPServer:
    """Serve until interrupted, or with ``background=True`` from a daemon thread, returning the server at
    once (stop it with ``server.shutdown(); server.server_close()``)."""
    host, port = server.server_address[:2]
    log.info("acknowledgement receiver on http://%s:%d/ack", host, port)
    if not is_loopback(host):
        log.warning("acknowledgement receiver listens on %s, not loopback: keep it behind a TLS reverse proxy", host)
    if background:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="fengqiao-ack",
                         daemon=True).start()
        return server
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return server
