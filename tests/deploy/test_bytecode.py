"""The locked environment is installed with its bytecode compiled.

Where Python may not write its bytecode cache (the image's user does not own the environment; CI machines and many
containers set PYTHONDONTWRITEBYTECODE), every process compiled the libraries it imports from source again: ~7 s of
each Airflow task's, CLI run's and Spark Python worker's start (benchmarks/results/2026-12-06-compiled-bytecode.md).
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def uv_sync_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"\buv sync\b", line) and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("path", ["Makefile", "docker/Dockerfile"])
def test_every_install_compiles_the_bytecode(path):
    lines = uv_sync_lines((ROOT / path).read_text(encoding="utf-8"))
    assert lines, f"{path} installs nothing with uv sync"
    assert all("--compile-bytecode" in line for line in lines), lines


@pytest.mark.parametrize("module", ["great_expectations", "pyspark.sql.connect.session", "sklearn.pipeline",
                                    "airflow.sdk", "pandas.core.frame"])
def test_the_libraries_of_this_environment_have_their_bytecode(module):
    origin = importlib.util.find_spec(module).origin
    cached = Path(importlib.util.cache_from_source(origin))
    assert cached.exists(), (f"{module} has no compiled bytecode ({cached}); install with `make install` after "
                             "`make clean`, or run `uv sync --frozen --compile-bytecode`")
