"""A weekly run on a backfilled lake, in a fresh process against as a client of a warm Spark Connect server.

Run on demand, never by the tests (minutes per run at province scale)::

    FENGQIAO_SOURCE=DROP FENGQIAO_PSEUDONYM_KEY_FILE=KEY FENGQIAO_MODEL_DIR=MODELS \\
      .venv/bin/python benchmarks/weekly_connect.py --lake LAKE --through 2026-11-22 --work SCRATCH

``LAKE`` is backfilled up to the week before ``--through``; every run adds that week to its own copy of it and the
copy is removed after. The copies are hard links (the lake's files are written once and published by renaming
folders, so no run changes a file in place) except the run log and other files that are appended to, which are
copied. In order: a run in a fresh process (``pipeline_benchmark.py _child``, the stages as ``fengqiao run`` runs
them with one Spark session), a Connect server started with ``fengqiao spark-connect-server`` (loopback, its token
in SCRATCH), one client run to warm it (reported, not counted), ``--runs`` client runs, and a fresh-process run
again. Prints a Markdown table of wall time, stage times and memory: the peak summed PSS of the run's process tree
and, for client runs, of the server's (its JVM keeps its heap between runs, so both count on the machine).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from local_processes import spark_connect_server  # noqa: E402  (the tests' loopback helpers)
from pipeline_benchmark import Sampler, gb  # noqa: E402  (this folder: the process-tree memory sampler)

STAGES = "bronze,silver:hotline,silver:workorders,silver:mediation,validate,features,scores"


def copy_lake(source: Path, target: Path) -> None:
    """``target`` as a copy of ``source``: hard links for Parquet files and bronze's landed files (written once),
    copies of the rest."""
    shutil.rmtree(target, ignore_errors=True)
    for folder, _, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        write_once = relative.parts[:1] == ("bronze",)
        for name in files:
            if write_once or name.endswith(".parquet"):
                os.link(Path(folder) / name, target / relative / name)
            else:
                shutil.copy2(Path(folder) / name, target / relative / name)


def run_week(label: str, lake: Path, work: Path, through: str, stages: str, remote: str | None,
             server_pid: int | None = None) -> dict:
    copy = work / f"lake-{label}"
    copy_lake(lake, copy)
    markers = work / f"{label}.markers.jsonl"
    markers.unlink(missing_ok=True)
    env = {**os.environ, "FENGQIAO_LAKE": str(copy), "FENGQIAO_THROUGH": through}
    env.pop("SPARK_REMOTE", None)
    if remote:
        env.update({"SPARK_REMOTE": remote, "FENGQIAO_SPARK_CONNECT_TOKEN_FILE": str(work / "spark-connect.token")})
    server = Sampler(server_pid, every=1.0) if server_pid else None
    if server:
        server.start()
    started = time.time()
    with open(work / f"{label}.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "pipeline_benchmark.py"), "_child",
                                 "--markers", str(markers), "--stages", stages], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        client = Sampler(proc.pid, every=1.0)
        client.start()
        code = proc.wait()
    wall = time.time() - started
    peaks = {name: max((pss for _, pss in s.stop()), default=0) for name, s in (("client", client), ("server", server))
             if s is not None}
    shutil.rmtree(copy)
    if code != 0:
        raise SystemExit(f"{label} failed (rc {code}): see {work / f'{label}.log'}")
    rows = [json.loads(line) for line in markers.read_text(encoding="utf-8").splitlines()]
    return {"label": label, "wall": wall, "stages": {r["stage"]: r["end"] - r["start"] for r in rows}, "peaks": peaks}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", type=Path, required=True, help="backfilled lake (never changed)")
    ap.add_argument("--through", required=True, help="last day of the week each run adds (YYYY-MM-DD)")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the copies, logs and token")
    ap.add_argument("--runs", type=int, default=2, help="counted client runs of the warm server")
    ap.add_argument("--stages", default=STAGES)
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    results = [run_week("fresh-1", a.lake, a.work, a.through, a.stages, None)]
    try:
        with spark_connect_server(a.work, dict(os.environ)) as server:
            for label in ["client-warm-up", *(f"client-{i}" for i in range(1, a.runs + 1))]:
                results.append(run_week(label, a.lake, a.work, a.through, a.stages, f"sc://localhost:{server['port']}",
                                        server_pid=server["pid"]))
    except RuntimeError as exc:
        raise SystemExit(str(exc))
    results.append(run_week("fresh-2", a.lake, a.work, a.through, a.stages, None))
    stages = a.stages.split(",")
    print(f"| run | wall | {' | '.join(stages)} | peak PSS: run | peak PSS: server |")
    print("|---|---|" + "---|" * (len(stages) + 2))
    for r in results:
        cells = " | ".join(f"{r['stages'].get(s, 0):.1f}" for s in stages)
        server = gb(r["peaks"]["server"]) if "server" in r["peaks"] else "-"
        print(f"| {r['label']} | {r['wall'] // 60:.0f} min {r['wall'] % 60:.1f} s | {cells} | {gb(r['peaks']['client'])} "
              f"| {server} |")


if __name__ == "__main__":
    main()
