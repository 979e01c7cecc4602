"""Inputs markers: what a published gold table was built from, kept inside the table's folder.

A gold job fingerprints its inputs (silver partitions, regions.csv, the model, its parameters...) and
compares them with the marker ``_inputs.json`` of the published table: equal, nothing to do; otherwise
the marker says which parts changed. Readers skip it (a ``_`` file).
"""
from __future__ import annotations

import json
from pathlib import Path

from fengqiao.lake.publish import write_json_atomically

INPUTS_MARKER = "_inputs.json"


def read_inputs(table_dir: Path) -> dict | None:
    """The inputs recorded in a table folder; None when it has no marker (not published, or never marked)."""
    marker = Path(table_dir) / INPUTS_MARKER
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None


def write_inputs(table_dir: Path, inputs: dict) -> None:
    """Record ``inputs`` in a table folder: a staged one (published with the rows), or a published one
    after its publish (a run killed before this does its work again next time)."""
    write_json_atomically(Path(table_dir) / INPUTS_MARKER, inputs, sort_keys=True)
