"""Stage: read the bureaus' dispositions dropped as CSV files into gold/alert_dispositions.

Files: ``<lake>/inbox/dispositions/*.csv`` or the folder in ``FENGQIAO_DISPOSITIONS_DIR``, columns
``alert_id,disposition,disposed_at,note``. Files stay where they are; reading them again stores
nothing twice. Dispositions sent by webhook arrive through
:func:`fengqiao.outputs.acknowledgements.serve_acknowledgements` instead.
"""
from __future__ import annotations

import logging
import os

from fengqiao.lake import Lake
from fengqiao.outputs.acknowledgements import ingest_disposition_files

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike) -> dict:
    """Returns ``folder``, ``files``, ``received``, ``stored``, ``duplicates``, ``rejected`` and
    ``rejections`` (``{"where": "file.csv:line", "reason": ...}``; reasons never quote notes)."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    return ingest_disposition_files(lake)
