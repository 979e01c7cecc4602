"""What a long-running Spark Connect server keeps of each client session's Python workers.

Run on demand, never by the tests (a server start and a process per session)::

    .venv/bin/python benchmarks/connect_python_workers.py --sessions 16 --work SCRATCH [--recycle]

Starts ``fengqiao spark-connect-server`` on loopback (its token in SCRATCH), then runs ``--sessions`` client
processes one after the other; each opens a session, runs one ``mapInPandas`` over 1,000 rows on two partitions
(as the silver jobs' text models and pseudonyms run Python on the server) and exits. After each, prints the number
of PySpark daemon and worker processes under the server and their summed PSS, and the server tree's summed PSS.
Spark keys its Python worker factories by the session's artifact id and, in the Spark of uv.lock, never drops a
session's factory (SPARK-54055): the counts grow with every session until the server restarts. ``--recycle``: the
server recycles itself when idle (fengqiao.app.connect_recycling), and the counts are printed once more after that.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from local_processes import spark_connect_server  # noqa: E402  (the tests' loopback helpers)
from pipeline_benchmark import _pss_kb, _tree  # noqa: E402  (this folder: process-tree memory)

CLIENT = r'''
from fengqiao.core.settings import Settings
from fengqiao.core.spark import get_spark

def same(batches):
    yield from batches

spark = get_spark(Settings.from_env())
print(spark.range(1000).repartition(2).mapInPandas(same, "id long").count())
'''


def python_workers(server_pid: int) -> list[int]:
    """PySpark daemon and worker processes in the server's process tree."""
    found = []
    for pid in _tree(server_pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "pyspark.daemon" in args or "pyspark.worker" in args:
            found.append(pid)
    return found


def _row(label, rows: str, server_pid: int) -> str:
    """One line of the table: the Python workers under the server now, their PSS and the server tree's."""
    workers = python_workers(server_pid)
    return (f"| {label} | {rows} | {len(workers)} | {sum(map(_pss_kb, workers)) / 1024:.0f} MB "
            f"| {sum(map(_pss_kb, _tree(server_pid))) / 1024:.0f} MB |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the server's token and log")
    ap.add_argument("--recycle", action="store_true",
                    help="start the server with recycling after 36 s of age and 30 s without a client, and after the "
                         "sessions wait for the restart and print the counts again")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FENGQIAO_HOME": str(a.work / "home")}
    print("| session | rows | Python processes under the server | their PSS | server tree PSS |")
    print("|---|---|---|---|---|")
    options = ("--recycle-after-hours", "0.01", "--recycle-idle-minutes", "0.5") if a.recycle else ()
    with spark_connect_server(a.work, env, options) as server:
        client_env = {**env, "SPARK_REMOTE": f"sc://localhost:{server['port']}",
                      "FENGQIAO_SPARK_CONNECT_TOKEN_FILE": str(a.work / "spark-connect.token")}
        for i in range(1, a.sessions + 1):
            run = subprocess.run([sys.executable, "-c", CLIENT], cwd=ROOT, env=client_env, capture_output=True,
                                 text=True)
            if run.returncode != 0:
                raise SystemExit(run.stderr[-2000:])
            time.sleep(2)
            print(_row(i, run.stdout.strip(), server["pid"]), flush=True)
        if a.recycle:
            deadline = time.time() + 180
            while "recycling the Spark Connect server" not in server["log"].read_text(errors="replace") \
                    and time.time() < deadline:
                time.sleep(1)
            time.sleep(15)  # the new server's JVM up
            print(_row("recycled", "", server["pid"]), flush=True)


if __name__ == "__main__":
    main()
