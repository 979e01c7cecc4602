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
    """The longest modules (``pytest.mark.slow(first=True)``, ten minutes and more) first. ``make test`` runs the
    suite on two pytest-xdist workers that take whole modules (``--dist loadfile``: module-scoped fixtures are
    built once) in this order (``--no-loadscope-reorder``; xdist would otherwise start with the modules of most
    tests and leave a one-test module of ten minutes for last, on one worker while the other idles). Each worker
    starts with two modules: the two longest, each followed by a short one, then the rest in file order."""
    def starts_first(item) -> bool:
        marker = item.get_closest_marker("slow")
        return bool(marker and marker.kwargs.get("first"))

    items.sort(key=lambda item: not starts_first(item))  # stable: file order otherwise
