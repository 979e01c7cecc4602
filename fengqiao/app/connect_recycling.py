"""Recycling the Spark Connect server: restart it once it has run long enough and no client has been connected for a
while.

Why: in the Spark of ``uv.lock`` (4.3.0) the server keeps the Python workers of every client session that ran
Python until it stops (Apache Spark SPARK-54055): at least one daemon (~35 MB) per silver job, without bound
(``benchmarks/results/2026-12-06-connect-server-python-workers.md``). A restart ends the Spark application, its
executors and every Python worker with them, on one machine and on a cluster. Restarting in the middle of a run would
fail its tasks, so the server is restarted only when no client holds a connection to its gRPC port: every
stage of a run (an Airflow task, ``fengqiao run``) is a process that keeps its channel open from its first Spark call
to its exit. A client that dials during the restart's few seconds is retried by PySpark's own retry policy.

Connections are counted from the kernel's socket tables (``/proc/net/tcp`` and ``tcp6``) of the server's network
namespace: established sockets whose local port is the server's. Where those tables cannot be read the server is
never recycled (nothing could tell a busy server from an idle one).
"""
from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SOCKET_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_ESTABLISHED = "01"  # the kernel's TCP state code in those tables
# How long a stopping server may take (its shutdown stops the Spark application and its workers) before SIGKILL.
STOP_TIMEOUT_SECONDS = 60


def established_connections(port: int, tables: Sequence[Path] = SOCKET_TABLES) -> int | None:
    """Established TCP connections whose local port is ``port`` (clients connected to a server listening there),
    or None when no socket table could be read."""
    found, readable = 0, False
    for table in tables:
        try:
            rows = table.read_text(encoding="ascii").splitlines()[1:]  # the first line names the columns
        except OSError:
            continue
        readable = True
        for row in rows:
            fields = row.split()
            # fields: slot, local address:port, remote address:port, state, ... (addresses and ports in hex)
            if len(fields) > 3 and fields[3] == _ESTABLISHED and _port_of(fields[1]) == port:
                found += 1
    return found if readable else None


def _port_of(address: str) -> int | None:
    try:
        return int(address.rsplit(":", 1)[1], 16)
    except (IndexError, ValueError):  # not a row of the table's format: counts as no client rather than stopping
        return None


@dataclass(frozen=True)
class RecyclePolicy:
    """Restart a server that is at least ``after_seconds`` old, has served a client since it started and has had
    none for ``idle_seconds`` (``after_seconds`` 0: never). A server no client has used holds no session's workers:
    restarting it would only cost the next run a warm-up."""
    after_seconds: float
    idle_seconds: float

    def due(self, age: float, idle: float, served: bool) -> bool:
        return self.after_seconds > 0 and served and age >= self.after_seconds and idle >= self.idle_seconds

    @property
    def poll_seconds(self) -> float:
        # Often enough to catch an idle spell of idle_seconds, rarely enough to cost nothing.
        return min(30.0, max(0.5, self.idle_seconds / 3))


def stop_server(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
    """SIGTERM the server (its JVM stops the Spark application and its Python workers), SIGKILL it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _sleep_unless(stopping: list, seconds: float) -> None:
    # In short steps: a stop request (compose gives 10 s before SIGKILL) must not wait out a whole poll.
    deadline = time.monotonic() + seconds
    while not stopping and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def serve_recycled(command: Sequence[str], env: dict[str, str], port: int, policy: RecyclePolicy,
                   echo: Callable[[str], None] = print,
                   connections: Callable[[int], int | None] = established_connections) -> int:
    """Run the server ``command`` in the foreground, restarting it whenever ``policy`` says it is due; returns the
    server's exit code when it ends by itself, or after this process is asked to stop (SIGTERM, SIGINT), which it
    passes on to the server."""
    stopping: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stopping.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    server = None
    try:
        generation = 0
        while True:
            generation += 1
            server = subprocess.Popen(list(command), env=env)
            started = last_client = time.monotonic()
            served, unknown_said = False, False
            while True:
                _sleep_unless(stopping, policy.poll_seconds)
                if stopping:
                    return stop_server(server)
                if server.poll() is not None:
                    echo(f"the Spark Connect server ended (exit code {server.returncode})")
                    return server.returncode
                clients, now = connections(port), time.monotonic()
                if clients is None:
                    if not unknown_said:
                        echo("cannot read the socket tables (/proc/net/tcp): the server will not be recycled")
                        unknown_said = True
                    continue
                if clients:
                    served, last_client = True, now
                if policy.due(now - started, now - last_client, served):
                    echo(f"recycling the Spark Connect server (start {generation}, up {(now - started) / 3600:.1f} h, "
                         f"no client for {(now - last_client) / 60:.1f} min): its sessions' Python workers go with it")
                    stop_server(server)
                    break
    finally:
        if server is not None and server.poll() is None:  # left by an error here: no server outlives its supervisor
            stop_server(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
