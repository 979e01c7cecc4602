"""Entry point of the Spark-heavy stages, for ``spark-submit`` and for in-process Airflow tasks.

``spark-submit [options] jobs/submit.py <stage> [argument]`` (or ``python -m jobs.submit``)
runs one stage of :mod:`jobs.stages` with the session of :func:`fengqiao.core.spark.get_spark`
and prints its summary as one JSON line. The DAGs submit this file when ``SPARK_MASTER`` names a
cluster and call :func:`run_stage` in the task's own process otherwise
(:func:`fengqiao.orchestration.spark_stage`), so both paths run the same code.

Stages: ``silver <feed>`` (hotline, workorders, mediation), ``validate``, ``features``.
"""
from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    # Run as a file (spark-submit .../jobs/submit.py): Python put the jobs folder first on
    # the path, where modules such as stages.py or the stage folders could shadow libraries of the same name.
    sys.path.pop(0)

from fengqiao.core.spark import stop_spark  # noqa: E402
from fengqiao.lake import SILVER_TABLES  # noqa: E402
from jobs import stages as pipeline  # noqa: E402

STAGES = ("silver", "validate", "features")


def run_stage(stage: str, *args: str) -> dict:
    """Run one stage and return its summary (the dict the pipeline function records)."""
    if stage == "silver":
        if len(args) != 1 or args[0] not in SILVER_TABLES:
            raise SystemExit(f"usage: silver <feed>, feed one of {', '.join(SILVER_TABLES)}; got {list(args)}")
        return pipeline.build_silver(args[0])
    if args:
        raise SystemExit(f"stage {stage!r} takes no arguments; got {list(args)}")
    if stage == "validate":
        return pipeline.validate_silver()
    if stage == "features":
        return pipeline.build_features()
    raise SystemExit(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        raise SystemExit(f"usage: jobs/submit.py <stage> [argument]; stages: {', '.join(STAGES)}")
    try:
        summary = run_stage(argv[0], *argv[1:])
    finally:
        stop_spark()
    # One line the task log shows (counts only; pipeline summaries never hold record contents).
    print("fengqiao-stage-summary " + json.dumps(summary, ensure_ascii=False, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
