"""Signed JSON webhooks: the alert payload, HMAC signing, and one POST with urllib.

Outgoing alerts (Fengqiao -> a bureau's webhook):

- body: UTF-8 JSON;
- ``X-Fengqiao-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body bytes under the alert signing
  key (``FENGQIAO_WEBHOOK_KEY``), which is never a bureau's key;
- ``X-Fengqiao-Timestamp``: Unix seconds when the request was made. The signature covers the body
  only, so the alert payload repeats the time in its signed ``sent_at`` field.

Dispositions coming back are signed with each bureau's own key instead
(:mod:`fengqiao.delivery.bureau_keys`, :mod:`fengqiao.delivery.ack_receiver`).

Webhook addresses must be ``https://``; plain ``http://`` is accepted for loopback hosts only (tests, a
local relay).

How alerts are delivered (cool-down, retries, timeouts) comes from the settings given
(:func:`delivery_options`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from fengqiao.core.bureaus import is_loopback, url_problem
from fengqiao.core.settings import Settings

SIGNATURE_HEADER = "X-Fengqiao-Signature"
TIMESTAMP_HEADER = "X-Fengqiao-Timestamp"
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "fengqiao-alerts/1"
_MAX_RESPONSE_BYTES = 64 * 1024


# --- options --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryOptions:
    """How alerts are delivered: cool-down, retries with exponential back-off, timeouts."""
    cooldown_weeks: int = 4              # FENGQIAO_ALERT_COOLDOWN_WEEKS; 0 disables the cool-down
    retry_attempts: int = 3              # FENGQIAO_ALERT_RETRY_ATTEMPTS: attempts per delivery in one run
    retry_base_delay: float = 1.0        # FENGQIAO_ALERT_RETRY_DELAY_SECONDS: 1 s, then 2 s, 4 s, …
    webhook_timeout: float = 10.0        # FENGQIAO_WEBHOOK_TIMEOUT_SECONDS

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): base · 2^(attempt-1)."""
        return self.retry_base_delay * (2 ** (attempt - 1))


def delivery_options(settings: Settings) -> DeliveryOptions:
    """The delivery options of ``settings``; raises ValueError on a value that cannot work."""
    options = DeliveryOptions(
        cooldown_weeks=settings.alert_cooldown_weeks,
        retry_attempts=settings.alert_retry_attempts,
        retry_base_delay=settings.alert_retry_delay_seconds,
        webhook_timeout=settings.webhook_timeout_seconds,
    )
    if options.cooldown_weeks < 0 or options.retry_attempts < 1 or options.retry_base_delay < 0:
        raise ValueError("FENGQIAO_ALERT_COOLDOWN_WEEKS must be >= 0, FENGQIAO_ALERT_RETRY_ATTEMPTS >= 1 and "
                         f"FENGQIAO_ALERT_RETRY_DELAY_SECONDS >= 0; got {options}")
    return options


# --- signing --------------------------------------------------------------------------------------
def _key_bytes(key: str | bytes) -> bytes:
    if not key:
        raise ValueError("no alert signing key: set FENGQIAO_WEBHOOK_KEY")
    return key if isinstance(key, bytes) else key.encode("utf-8")


def sign(body: bytes, key: str | bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body."""
    return SIGNATURE_PREFIX + hmac.new(_key_bytes(key), body, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, key: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(body, key),
        TIMESTAMP_HEADER: str(int(time.time()) if timestamp is None else timestamp),
        "User-Agent": USER_AGENT,
    }


def json_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- URLs (which ones are acceptable: fengqiao.core.bureaus.url_problem) -------------------------
def public_url(url: str) -> str:
    """The address without credentials, query or fragment (robot hooks carry tokens there): safe to record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # a redirected POST is a failure
        return None


# --- delivery -------------------------------------------------------------------------------------
class DeliveryFailure(Exception):
    """A failed delivery attempt. ``retryable``: worth another attempt; ``unreachable``: the server
    could not be reached at all (later deliveries to it in the same run fail fast)."""

    def __init__(self, detail: str, retryable: bool = True, unreachable: bool = False):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.unreachable = unreachable


def post_signed(url: str, body: bytes, key: str | bytes, timeout: float = 10.0) -> int:
    """POST ``body`` to ``url`` with the signature headers; return the 2xx status or raise DeliveryFailure.

    Retryable: connection errors, timeouts, 408, 425, 429 and 5xx. Other statuses (400, 401, 404, …)
    and redirects are permanent for this run.
    """
    problem = url_problem(url)
    if problem:
        raise DeliveryFailure(problem, retryable=False)
    handlers = [_NoRedirect()]
    if is_loopback(urlsplit(url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic through a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=signed_headers(body, key), method="POST")
    shown = public_url(url)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(_MAX_RESPONSE_BYTES)
            status = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
        exc.close()
        retryable = code in (408, 425, 429) or code >= 500
        raise DeliveryFailure(f"webhook {shown} answered HTTP {code} {exc.reason}"
                              + ("" if retryable else " (not retried)"), retryable=retryable) from None
    except urllib.error.URLError as exc:
        raise DeliveryFailure(f"webhook {shown} unreachable: {exc.reason!r}", unreachable=True) from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, malformed responses
        raise DeliveryFailure(f"webhook {shown} failed: {type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryFailure(f"webhook {shown} answered HTTP {status} (not retried)", retryable=False)
    return status


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(
        timespec="seconds")
