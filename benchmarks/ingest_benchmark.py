"""Ingestion against a reference doing equal work (issue 22): run on demand, never as a test.

    .venv/bin/python benchmarks/ingest_benchmark.py --source DROP --work /scratch/ingest [--out report.md]

In one run, on the same machine and the same drop:

1. the pipeline's stages, in one child process as ``fengqiao run`` runs them (one Spark session): bronze
   landing, the three silver jobs (read, check, type, mask, hash, newest version, quarantine, write-audit-
   publish), the audit stage and the feature job; time and peak memory per stage
   (:func:`pipeline_benchmark.run_measured`);
2. ``benchmarks/ingest_reference.py`` (DuckDB and pyarrow) over the bronze files the pipeline landed, in
   a child of its own: the same reading, checks, quarantine, masking, pseudonyms, typing and newest
   version, silver written per week, then the core aggregation;
3. the ratio, per stage and raw -> features, and a comparison of what both wrote (silver rows and
   quarantined records per feed).

Times are wall-clock; the report prints the load average at the start (only a quiet machine's figures count).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline_benchmark import FEEDS, SILVER, gb, machine, run_measured  # noqa: E402

STAGES = ["bronze", *[f"silver:{f}" for f in FEEDS], "validate", "features"]


def pipeline(work: Path, source: Path) -> dict:
    lake, markers = work / "lake", work / "pipeline.markers.jsonl"
    shutil.rmtree(lake, ignore_errors=True)
    markers.unlink(missing_ok=True)
    (work / "home").mkdir(parents=True, exist_ok=True)
    (work / "models").mkdir(exist_ok=True)  # no text models: the reference has none either
    env = dict(os.environ, FENGQIAO_HOME=str(work / "home"), FENGQIAO_SOURCE=str(source), FENGQIAO_LAKE=str(lake),
               FENGQIAO_MODEL_DIR=str(work / "models"), SPARK_LOCAL_IP=os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "benchmarks" / "pipeline_benchmark.py"), "_child", "--markers", str(markers),
           "--stages", ",".join(STAGES)]
    print("[ingest] pipeline: bronze, silver, validate, features ...", flush=True)
    seconds, peak, samples, code = run_measured(cmd, env, work / "pipeline.log")
    if code != 0:
        raise SystemExit(f"the pipeline failed (exit {code}); see {work / 'pipeline.log'}")
    stages = {}
    for line in markers.read_text(encoding="utf-8").splitlines():
        m = json.loads(line)
        inside = [s for t, s in samples if m["start"] <= t <= m["end"]]
        stages[m["stage"]] = dict(seconds=m["end"] - m["start"], peak=max(inside, default=0), summary=m["summary"])
    return dict(seconds=seconds, peak=peak, stages=stages, lake=lake)


def reference(work: Path, lake: Path, batch_days: int | None = None) -> dict:
    out = work / "reference"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "ingest_reference.py"), "--lake", str(lake), "--out", str(out)]
    if batch_days:
        cmd += ["--batch-days", str(batch_days)]
    print("[ingest] reference: DuckDB and pyarrow over the same bronze ...", flush=True)
    seconds, peak, _, code = run_measured(cmd, dict(os.environ, PYTHONPATH=str(ROOT)), work / "reference.log")
    if code != 0:
        raise SystemExit(f"the reference failed (exit {code}); see {work / 'reference.log'}")
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return dict(wall=seconds, peak=peak, **result)


def written(lake: Path, ref: Path) -> list[tuple[str, int, int, int, int]]:
    """(feed, pipeline silver rows, reference silver rows, pipeline quarantined, reference quarantined)."""
    import duckdb

    rows = []
    for feed in FEEDS:
        table = SILVER[feed]
        p = duckdb.sql(f"select count(*) from read_parquet('{lake}/silver/{table}/*/*.parquet')").fetchall()[0][0]
        r = duckdb.sql(f"select count(*) from read_parquet('{ref}/silver/{table}/*/*.parquet')").fetchall()[0][0]
        qp = duckdb.sql(f"select count(*) from read_parquet('{lake}/silver/quarantine/feed={feed}/*.parquet')").fetchall()[0][0]
        qr = duckdb.sql(f"select count(*) from read_parquet('{ref}/quarantine/{feed}*.parquet')").fetchall()[0][0]
        rows.append((feed, p, r, qp, qr))
    return rows


def report(work: Path, source: Path, started: str, load: str, pipe: dict, ref: dict, counts) -> str:
    ps, rs = pipe["stages"], ref["seconds"]
    size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    p_silver = sum(ps[f"silver:{f}"]["seconds"] for f in FEEDS)
    r_silver = sum(rs[f"silver:{f}"] for f in FEEDS)
    p_total = p_silver + ps["validate"]["seconds"] + ps["features"]["seconds"]
    r_total = r_silver + rs["features"]
    lines = [f"# Ingestion against the DuckDB/pyarrow reference, {started}", "",
             f"Machine: {load}. Drop: `{source.parent.name}/{source.name}` ({gb(size)}).", "",
             "| stage | pipeline | reference | ratio |", "|---|---|---|---|"]
    lines.append(f"| bronze landing (pipeline only; the reference reads the landed files) | {ps['bronze']['seconds']:.1f} s | | |")
    for f in FEEDS:
        p, r = ps[f"silver:{f}"]["seconds"], rs[f"silver:{f}"]
        steps = ps[f"silver:{f}"]["summary"].get("step_seconds", {})
        lines.append(f"| silver {f} (steps: {', '.join(f'{k} {v} s' for k, v in steps.items())}) | {p:.1f} s | {r:.1f} s | {p / r:.1f}× |")
    lines.append(f"| audit stage (Great Expectations; the reference has none) | {ps['validate']['seconds']:.1f} s | | |")
    lines.append(f"| features (pipeline: five levels, all columns; reference: core aggregation) | "
                 f"{ps['features']['seconds']:.1f} s | {rs['features']:.1f} s | {ps['features']['seconds'] / rs['features']:.1f}× |")
    lines.append(f"| **raw → silver** | {p_silver:.1f} s | {r_silver:.1f} s | **{p_silver / r_silver:.2f}×** |")
    lines.append(f"| **raw → gold features** | {p_total:.1f} s | {r_total:.1f} s | **{p_total / r_total:.2f}×** (target ≤ 4×) |")
    lines.append(f"| peak memory (process tree, PSS) | {gb(pipe['peak'])} | {gb(ref['peak'])} | |")
    lines += ["", "| feed | silver rows, pipeline | reference | quarantined, pipeline | reference |", "|---|---|---|---|---|"]
    lines += [f"| {f} | {a:,} | {b:,} | {c:,} | {d:,} |" for f, a, b, c, d in counts]
    lines += ["", "Equal work, as far as it goes: see `benchmarks/ingest_reference.py`'s docstring for what the "
              "reference does not do (Great Expectations' audit, incremental ledgers, atomic publishing, five "
              "levels and the dynamics columns of the features). Its masking is the same rule table in RE2 form "
              "(no look-arounds), so its masks can differ from silver's at the edges; row counts can differ where "
              "RE2 forms or date parsers disagree on a record, and the table above shows by how much."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", required=True, help="a drop (hotline/, workorders/, mediation/, reference/)")
    ap.add_argument("--work", required=True, help="scratch folder for the lake and the reference's output")
    ap.add_argument("--out", help="write the report here too")
    ap.add_argument("--batch-days", type=int, help="the reference reads this many day folders at a time (province years)")
    a = ap.parse_args(argv)
    work, source = Path(a.work).resolve(), Path(a.source).resolve()
    work.mkdir(parents=True, exist_ok=True)
    started, load = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), machine()
    pipe = pipeline(work, source)
    ref = reference(work, pipe["lake"], a.batch_days)
    text = report(work, source, started, load, pipe, ref, written(pipe["lake"], work / "reference"))
    print(text)
    (work / "report.md").write_text(text, encoding="utf-8")
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
