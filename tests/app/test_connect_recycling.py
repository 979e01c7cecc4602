"""The Spark Connect server is restarted when it is due and no client is connected (fengqiao.app.connect_recycling).

The connection count is read from socket tables written here in the kernel's format; the restart loop runs a stand-in
server (a sleeping Python process) with scripted connection counts; and one test runs the real command on loopback:
a client holding its session keeps the server up past its age, and once it has gone the server is restarted, the
Python workers of the earlier sessions end with it and a new client is served.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fengqiao.app.connect_recycling import RecyclePolicy, established_connections, serve_recycled

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(ROOT / "benchmarks"))
from local_processes import listening, spark_connect_server  # noqa: E402

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
# Port 15002 is 3A9A; 01 established, 0A listening, 06 time-wait.
TCP4 = HEADER + "".join([
    "   0: 00000000:3A9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 1 1 0 100 0 0 10 0\n",
    "   1: 0100007F:3A9A 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000 0 2 1 0 20 4 30 10 -1\n",
    "   2: 0100007F:D431 0100007F:3A9A 01 00000000:00000000 00:00000000 00000000  1000 0 3 1 0 20 4 30 10 -1\n",
    "   3: 0100007F:3A9A 0100007F:D433 06 00000000:00000000 03:00000A2B 00000000     0 0 0 3 0\n",
    "   4: 0100007F:1F90 0100007F:D435 01 00000000:00000000 00:00000000 00000000  1000 0 4 1 0 20 4 30 10 -1\n",
    "   5: garbled 0100007F:D437 01 00000000:00000000\n",
])
TCP6 = HEADER + (
    "   0: 0000000000000000FFFF00000A000002:3A9A 0000000000000000FFFF00000A000003:B2C4 01 "
    "00000000:00000000 00:00000000 00000000  1000 0 5 1 0 20 4 30 10 -1\n")


def test_connections_are_the_established_sockets_on_the_server_port(tmp_path):
    (tmp_path / "tcp").write_text(TCP4, encoding="ascii")
    (tmp_path / "tcp6").write_text(TCP6, encoding="ascii")
    tables = [tmp_path / "tcp", tmp_path / "tcp6"]
    # The server's side of the loopback client, and the IPv6 client; not the listener, the client's own side
    # (remote port 15002), the closing socket or another port's.
    assert established_connections(15002, tables) == 2
    assert established_connections(8080, tables) == 1
    assert established_connections(15003, tables) == 0
    # A table that cannot be read is skipped; none readable: unknown, not "no clients".
    assert established_connections(15002, [tmp_path / "missing", tmp_path / "tcp"]) == 1
    assert established_connections(15002, [tmp_path / "missing"]) is None


def test_this_machine_counts_its_own_connections():
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        before = established_connections(port)
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            with accepted:
                assert established_connections(port) == before + 1 == 1


def test_due_only_when_old_enough_used_and_idle_long_enough():
    policy = RecyclePolicy(after_seconds=3600, idle_seconds=600)
    assert policy.due(age=3600, idle=600, served=True)
    assert not policy.due(age=3599, idle=3599, served=True)  # too young
    assert not policy.due(age=7200, idle=599, served=True)  # a client was there a moment ago
    assert not policy.due(age=7200, idle=7200, served=False)  # nobody used it: nothing to let go of
    assert not RecyclePolicy(after_seconds=0, idle_seconds=0).due(age=1e9, idle=1e9, served=True)  # 0: never
    assert RecyclePolicy(24 * 3600, 600).poll_seconds == 30
    assert RecyclePolicy(10, 0.3).poll_seconds == 0.5


def test_the_loop_restarts_the_server_when_due_and_stops_it_when_asked(tmp_path):
    starts = tmp_path / "starts"
    command = [sys.executable, "-c",
               f"import os, time; open({str(starts)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(120)"]
    # Scripted clients: connected for the first polls of the first server, then gone; the second server is asked
    # to stop (SIGTERM to this process, as compose stops the service) at its third poll.
    calls = []

    def connections(port):
        calls.append(port)
        if len(calls) <= 3:
            return 1
        if len(starts.read_text().splitlines()) >= 2 and len(calls) >= 10:
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    said = []
    handler = signal.getsignal(signal.SIGTERM)
    code = serve_recycled(command, dict(os.environ), 15002, RecyclePolicy(after_seconds=1, idle_seconds=1.5),
                          echo=said.append, connections=connections)
    pids = [int(p) for p in starts.read_text().splitlines()]
    assert len(pids) == 2 and code == -signal.SIGTERM
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # both stopped, none left behind
    assert len([s for s in said if s.startswith("recycling")]) == 1 and set(calls) == {15002}
    assert signal.getsignal(signal.SIGTERM) is handler  # the caller's handlers are back


def test_a_server_that_cannot_count_its_clients_is_never_recycled(tmp_path):
    starts = tmp_path / "starts"
    command = [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x\\n'); import time; time.sleep(3)"]
    said = []
    code = serve_recycled(command, dict(os.environ), 15002, RecyclePolicy(after_seconds=0.5, idle_seconds=0.1),
                          echo=said.append, connections=lambda port: None)
    # It ran until it ended by itself (exit code 0), once, and said once why it would not be recycled.
    assert code == 0 and starts.read_text() == "x\n"
    assert [s for s in said if "socket tables" in s] and not [s for s in said if s.startswith("recycling")]


CLIENT = r'''
import sys, time
from fengqiao.core.settings import Settings
from fengqiao.core.spark import get_spark

def same(batches):
    yield from batches

spark = get_spark(Settings.from_env())
print(spark.range(1000).repartition(2).mapInPandas(same, "id long").count(), flush=True)
time.sleep(float(sys.argv[1]))  # holding the session, as a stage does until its process ends
'''


def _pids_alive(pids):
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


@pytest.mark.slow
def test_the_real_server_is_recycled_between_clients_and_its_python_workers_end(tmp_path):
    from connect_python_workers import python_workers

    env = {key: value for key, value in os.environ.items() if key not in ("SPARK_REMOTE", "SPARK_HOME",
                                                                          "PYSPARK_PYTHON")}
    env["FENGQIAO_HOME"] = str(tmp_path / "home")
    # Due after 7.2 s of age and 3 s without a client.
    with spark_connect_server(tmp_path, env, ("--recycle-after-hours", "0.002", "--recycle-idle-minutes", "0.05")) \
            as server:
        client_env = {**env, "SPARK_REMOTE": f"sc://localhost:{server['port']}",
                      "FENGQIAO_SPARK_CONNECT_TOKEN_FILE": str(tmp_path / "spark-connect.token")}

        def client(hold: float) -> None:
            proc = subprocess.run([sys.executable, "-c", CLIENT, str(hold)], cwd=ROOT, env=client_env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0 and proc.stdout.split() == ["1000"], proc.stderr[-3000:]

        def recycles() -> int:
            return server["log"].read_text(errors="replace").count("recycling the Spark Connect server")

        client(hold=8)  # past the server's age, with its session open all along
        assert recycles() == 0
        workers = python_workers(server["pid"])
        assert workers, "the client's mapInPandas ran on Python workers under the server"
        deadline = time.time() + 60
        while recycles() == 0 and time.time() < deadline:
            time.sleep(0.5)
        assert recycles() == 1
        deadline = time.time() + 60
        while (_pids_alive(workers) or not listening(server["port"])) and time.time() < deadline:
            time.sleep(0.5)
        assert not _pids_alive(workers), "the first server's Python workers outlived it"
        client(hold=0)  # the new server serves
    # Warnings and errors only once the server is up (spark.log.level; a start logs a few INFO lines before it
    # applies): at INFO the log grows by every RPC, job and task of every session.
    per_request = [line for line in server["log"].read_text(errors="replace").splitlines()
                   if " INFO " in line and not any(f" INFO {at}:" in line for at in ("SparkContext",
                                                                                    "SparkConnectServer"))]
    assert not per_request, per_request[:10]


def test_the_command_supervises_by_default_and_execs_the_server_when_told_never_to_recycle(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from fengqiao.app import cli_pipeline
    from fengqiao.app.cli import app

    monkeypatch.setenv("FENGQIAO_SPARK_CONNECT_TOKEN_FILE", str(tmp_path / "token"))
    seen = {}

    def fake_serve(command, env, port, policy, echo):
        seen["serve"] = (command[-1], port, policy)
        return -signal.SIGTERM

    def fake_exec(path, command, env):
        seen["exec"] = command[-1]
        raise SystemExit(0)

    monkeypatch.setattr(cli_pipeline, "serve_recycled", fake_serve)
    monkeypatch.setattr(cli_pipeline.os, "execvpe", fake_exec)
    result = CliRunner().invoke(app, ["spark-connect-server", "--port", "15999"])
    # Supervised with the defaults (24 h, 10 min); a server stopped by SIGTERM ends the command with 128 + 15.
    assert seen == {"serve": ("spark-internal", 15999, RecyclePolicy(after_seconds=86400, idle_seconds=600))}
    assert result.exit_code == 143
    seen.clear()
    result = CliRunner().invoke(app, ["spark-connect-server", "--port", "15999", "--recycle-after-hours", "0"])
    assert seen == {"exec": "spark-internal"} and result.exit_code == 0


def test_an_error_in_the_loop_stops_the_server_it_started(tmp_path):
    pid_file = tmp_path / "pid"
    command = [sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
               "time.sleep(120)"]

    def broken(port):
        raise RuntimeError("socket table unreadable in an unexpected way")

    with pytest.raises(RuntimeError):
        serve_recycled(command, dict(os.environ), 15002, RecyclePolicy(60, 1), echo=lambda _: None,
                       connections=broken)
    assert not Path(f"/proc/{pid_file.read_text()}").exists()
