"""Servers the tests (and benchmarks/weekly_connect.py) start on loopback: a free port, a standalone cluster from the
pyspark package, a Spark Connect server (`fengqiao spark-connect-server`), and stopping a server's whole process group
(spark-class and spark-submit exec java in the group they start)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from fengqiao.core.spark import pyspark_home

SPARK_CLASS = Path(sys.executable).parent / "spark-class"


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the group of ``proc`` (started with ``start_new_session=True``), SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def cluster_state(web_port: int) -> dict:
    """The standalone master's JSON status page (workers, running and completed applications)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as response:
        return json.load(response)


@contextlib.contextmanager
def standalone_cluster(work: Path, workers: int) -> Iterator[dict]:
    """A Spark standalone master and ``workers`` workers (one core, 1 GB each) on loopback, started with the pyspark
    package's ``spark-class`` as the docker-compose services are; yields its master URL and web port, raises
    RuntimeError with the logs when it does not come up, and stops every process group on exit."""
    port, web_port = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": pyspark_home()}
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        log = open(work / f"{name}.log", "wb")
        procs.append(subprocess.Popen([str(SPARK_CLASS), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True, cwd=work))

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(web_port))
        for i in range(1, workers + 1):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                  "--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", "0",
                  "--work-dir", str(work / f"worker{i}"))
        deadline, alive = time.time() + 180, 0
        while time.time() < deadline:
            try:
                alive = sum(w["state"] == "ALIVE" for w in cluster_state(web_port)["workers"])
            except OSError:
                alive = 0
            if alive == workers or any(p.poll() is not None for p in procs):
                break
            time.sleep(1)
        if alive != workers:
            logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in work.glob("*.log"))
            raise RuntimeError(f"the standalone cluster did not come up with {workers} workers ({alive} alive)\n{logs}")
        yield {"master": f"spark://127.0.0.1:{port}", "web_port": web_port, "work": work}
    finally:
        for proc in reversed(procs):
            stop_process_group(proc, timeout=20)


@contextlib.contextmanager
def spark_connect_server(work: Path, env: dict[str, str], options: tuple[str, ...] = ()) -> Iterator[dict]:
    """``fengqiao spark-connect-server`` on a free loopback port with ``env`` and the command's ``options`` (its
    token made in ``work/spark-connect.token``); yields its ``port``, ``pid`` (the process whose tree is the server)
    and ``log`` (its output's file), raises RuntimeError with its log when it does not start, and stops its process
    group on exit."""
    port = free_port()
    env = {**env, "FENGQIAO_SPARK_CONNECT_TOKEN_FILE": str(work / "spark-connect.token")}
    log_path = work / "connect-server.log"
    command = [str(Path(sys.executable).with_name("fengqiao")), "spark-connect-server", "--port", str(port),
               *options]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=work)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and not listening(port):
            time.sleep(1)
        if not listening(port):
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the Spark Connect server did not start\n{tail}")
        yield {"port": port, "pid": proc.pid, "log": log_path}
    finally:
        stop_process_group(proc)
