"""A local SMTP server that saves what it receives: for demos and tests, never for production.

    with local_mail_sink(lake.mailbox) as (host, port):
        # point FENGQIAO_SMTP_HOST / FENGQIAO_SMTP_PORT at it, run the alert step,
        # then open the <n>-<recipient>.eml files in the folder.

It listens on a loopback address only, accepts every recipient, and writes each message once per
recipient, exactly as received (the bytes after DATA). ``fail_first=n`` makes it answer the first
``n`` messages with a temporary failure (451), to exercise the sender's retries.
"""
from __future__ import annotations

import re
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from aiosmtpd.controller import Controller

from fengqiao.core.bureaus import is_loopback

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class _SaveToFolder:
    """aiosmtpd handler: one ``<n>-<recipient>.eml`` file per recipient of each message."""

    def __init__(self, folder: Path, fail_first: int = 0):
        self.folder = folder
        self._lock = threading.Lock()
        self._failures_left = fail_first
        # Continue the numbering of a folder used before instead of overwriting its files.
        self._count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return "451 4.3.0 Temporary failure (test sink), try again later"
        content = envelope.original_content or b""
        for rcpt in envelope.rcpt_tos:
            with self._lock:
                self._count += 1
                n = self._count
            (self.folder / f"{n}-{_UNSAFE.sub('_', rcpt)}.eml").write_bytes(content)
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def local_mail_sink(folder: Path, host: str = "127.0.0.1", port: int = 0,
                    fail_first: int = 0) -> Iterator[tuple[str, int]]:
    """Run an SMTP server on ``host:port`` (a free port when 0) that saves mail into ``folder``.

    ``fail_first``: answer the first that many messages with ``451`` (a temporary failure) instead.

    Yields ``(host, port)``; the server stops when the ``with`` block ends.
    """
    if not is_loopback(host):
        raise ValueError(f"local_mail_sink listens on loopback only, not on {host!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # aiosmtpd connects to its own port to check that it started, so it needs a real port number.
    port = port or _free_port(host)
    controller = Controller(_SaveToFolder(folder, fail_first), hostname=host, port=port)
    controller.start()
    try:
        yield host, port
    finally:
        controller.stop()
