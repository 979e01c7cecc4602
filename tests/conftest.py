"""Shared fixtures: one Spark session for the whole test run (starting Spark costs ~10 s)."""
from __future__ import annotations

import logging
import os
import sys

import pytest

# pytest-xdist runs each worker with a bare __main__ (no __file__, no __spec__). pyspark.sql.connect, which
# great_expectations imports, takes such a process for a doctest run and calls sys.exit(0) when Spark
# Connect's extras are missing. Name the worker's main module so that imports behave as under plain pytest.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "pytest-xdist-worker"

# py4j logs "closing down" at interpreter exit, after pytest has closed its capture streams.
logging.getLogger("py4j").setLevel(logging.WARNING)

# Tests never talk to anything but loopback, and keep Spark small on the 2-core CI machine.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("FENGQIAO_SPARK_DRIVER_MEMORY", "1g")
os.environ.setdefault("FENGQIAO_SPARK_SHUFFLE_PARTITIONS", "2")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Silver jobs run without FENGQIAO_SOURCE pointing at a simulated drop (truth/) need a configured key: this one.
os.environ.setdefault("FENGQIAO_PSEUDONYM_KEY", "fengqiao-test-suite-pseudonym-key-0f3c9a61d2b8")


@pytest.fixture(scope="session")
def spark():
    from fengqiao.core.spark import get_spark, stop_spark

    session = get_spark("fengqiao-tests")
    yield session
    stop_spark()


def pytest_collection_modifyitems(config, items):
    """Slow (end-to-end) modules first. Under ``make test`` the suite runs on two pytest-xdist workers
    (``--dist loadfile``, a module stays on one worker for its module-scoped fixtures) that take modules in
    this order: the few long ones start at once instead of finishing last on one worker."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise
