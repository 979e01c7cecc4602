"""A throwaway PostgreSQL server on the loopback address, for tests and the scheduler trial.

``initdb`` in a fresh folder under /tmp, a free loopback port, password authentication over TCP, stopped
and removed at the end. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
system user (``runuser``). Uses the Debian package's binaries (/usr/lib/postgresql/<major>/bin) or those on
PATH; :func:`server_unavailable` says why none can be started.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def server_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if candidates:
        newest = max(candidates, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
        return Path(newest).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def run_as_prefix() -> list[str] | None:
    """The command prefix that runs the server as a non-root user ([] when not root), None if impossible."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


def server_unavailable() -> str | None:
    """Why no server can be started here, or None when one can."""
    if server_bindir() is None:
        return ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): install the Debian "
                "package postgresql (make test does when run as root)")
    if run_as_prefix() is None:
        return "running as root with no 'postgres' system user or runuser(1): PostgreSQL cannot be started"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackPostgres:
    """``start()``, then connect as ``admin_user`` with ``admin_password`` on 127.0.0.1:``port``; ``stop()`` removes it."""

    admin_user = "fengqiao_admin"

    def __init__(self, max_connections: int = 20):
        self.bindir = server_bindir()
        self.as_user = run_as_prefix()
        # Under /tmp (world-traversable), not a private temporary folder: the postgres user must reach it.
        self.base = Path(tempfile.mkdtemp(prefix="fengqiao-pg-", dir="/tmp"))
        self.data, self.port = self.base / "data", free_port()
        self.admin_password = secrets.token_urlsafe(16)
        self.max_connections = max_connections

    def _run(self, *args: str) -> None:
        # Output to a file, not a pipe: pg_ctl's server child would keep a pipe open.
        with open(self.base / "command.log", "ab") as out:
            proc = subprocess.run([*self.as_user, *args], stdout=out, stderr=subprocess.STDOUT, timeout=120)
        if proc.returncode != 0:
            tail = (self.base / "command.log").read_text(errors="replace")[-2000:]
            server = self.base / "server.log"
            tail += server.read_text(errors="replace")[-2000:] if server.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({proc.returncode}):\n{tail}")

    def start(self) -> "LoopbackPostgres":
        reason = server_unavailable()
        if reason:
            raise RuntimeError(reason)
        self.base.chmod(0o755)
        pwfile = self.base / "admin.pw"
        pwfile.write_text(self.admin_password + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.base, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.admin_user, "--pwfile", str(pwfile),
                      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
            pwfile.unlink()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base} "
                       f"-c fsync=off -c max_connections={self.max_connections} -c shared_buffers=16MB")
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"),
                      "-o", options, "-w", "-t", "60", "start")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    @contextlib.contextmanager
    def connect(self, dbname: str = "postgres", autocommit: bool = False):
        """A superuser connection, committed at the end of the block and closed (max_connections is small)."""
        import psycopg2  # the driver's C library loads only for a trial or a test that starts a server

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.admin_user, password=self.admin_password,
                                dbname=dbname)
        conn.autocommit = autocommit  # CREATE DATABASE cannot run inside a transaction
        try:
            yield conn  # not "with conn": since psycopg2 2.9 that opens a transaction even in autocommit
            conn.commit()
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """A database owned by the admin; returns its SQLAlchemy URL (psycopg2 driver)."""
        with self.connect(autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" OWNER {self.admin_user} ENCODING \'UTF8\'')
        return f"postgresql+psycopg2://{self.admin_user}:{self.admin_password}@127.0.0.1:{self.port}/{name}"
