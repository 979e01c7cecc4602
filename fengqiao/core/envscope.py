"""Environment variables set for one block and restored after it.

Settings travel as a :class:`fengqiao.core.settings.Settings` object inside a process. Only where the
code that reads them runs in a place that can read nothing but its environment (Airflow's in-process
``dag.test`` run of ``fengqiao run``: see ``fengqiao.app.airflow_runner``), and in tests that point the
stage functions at a lake, are variables set: here, for the duration of a ``with`` block, never for good.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Mapping


@contextlib.contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set each variable of ``values`` (None: unset it) for the block; every one is as before afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def settings_env(**values: str | None):
    """:func:`scoped_environ` with the variables as keyword arguments (``FENGQIAO_LAKE=...``)."""
    return scoped_environ(values)
