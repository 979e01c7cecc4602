"""Stage: read the bureaus' signed dispositions dropped as CSV files into gold/alert_dispositions.

Files: ``<lake>/inbox/dispositions/*.csv`` or the folder in ``FENGQIAO_DISPOSITIONS_DIR``, columns
``alert_id,disposition,disposed_at,note``, each signed by a ``<file>.csv.sig`` under the bureau's key
(``FENGQIAO_BUREAU_KEYS``). Unsigned or badly signed files are held for review
(``<lake>/review/dispositions_held.jsonl``), never stored in gold. Files stay where they are; reading them
again stores or holds nothing twice. Dispositions sent by webhook arrive through
:func:`fengqiao.delivery.acknowledgements.serve_acknowledgements` instead.
"""
from __future__ import annotations

import logging
import os

from fengqiao.lake import Lake
from fengqiao.delivery.acknowledgements import ingest_disposition_files

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike) -> dict:
    """Returns ``folder``, ``files``, ``received``, ``stored``, ``duplicates``, ``rejected`` (``forbidden`` of
    them: alerts of another county than the signing bureau's), ``rejections`` (``{"where": "file.csv:line",
    "reason": ...}``; reasons never quote notes), ``held`` (rows newly held for review) and ``held_files``
    (``{"file", "reason"}``)."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    return ingest_disposition_files(lake)
