"""Temporarily point the settings (environment variables) at another source, lake or model folder."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def settings_env(**values: str | None):
    """Set FENGQIAO_* (or any) environment variables for the duration of the block."""
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
