"""The two generators of source drops with ground truth, and which one wrote a drop.

- ``home``: the project's own simulator (:mod:`fengqiao.simulator`). With ``vary=True`` its rates, text
  banks and episode shapes are drawn per seed from wide ranges (domain randomisation), so that a model
  trained on several home seeds never sees one fixed world.
- ``contract``: a second generator (:mod:`fengqiao.contract_world`) written from ``docs/source-contract.md``
  alone, sharing none of the home simulator's code, wording, rates, geography or episode shapes. A model
  that does well on one world and badly on the other has learned a generator, not escalation.

Both write the contract's layout plus ``truth/``; :func:`simulate_world` adds ``truth/world.json`` (world,
seed, scale, weeks, vary), which training and the backtest read to say which world a model learned from
and which world it is scored on. The pipeline never reads ``truth/``.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Callable

from fengqiao import contract_world, simulator

WORLDS = ("home", "contract")
WORLD_FILE = "world.json"


def simulate_world(world: str, out: Path, *, seed: int, scale: str = "city", weeks: int | None = None,
                   start: dt.date = dt.date(2024, 11, 4), vary: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Write a drop of ``world`` into ``out`` and return the generator's summary."""
    if world == "home":
        # Without --vary the call is the simulator's classic one: the same seed writes the same bytes as ever.
        summary = simulator.simulate(Path(out), seed=seed, scale=scale, weeks=weeks, start=start, progress=progress,
                                     **({"vary": True} if vary else {}))
    elif world == "contract":
        summary = contract_world.simulate(Path(out), seed=seed, scale=scale, weeks=weeks, start=start,
                                          progress=progress)
        vary = False  # the contract world draws its own world per seed already
    else:
        raise ValueError(f"unknown world {world!r}; one of {', '.join(WORLDS)}")
    stamp = {"world": world, "seed": seed, "scale": scale, "weeks": summary.get("weeks", weeks),
             "start": summary.get("start", start.isoformat()), "vary": bool(vary)}
    truth = Path(out) / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    (truth / WORLD_FILE).write_text(json.dumps(stamp, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return summary


def world_of(truth_dir: Path | None) -> dict | None:
    """What ``truth_dir/world.json`` says (None when the drop was written without it)."""
    if truth_dir is None:
        return None
    path = Path(truth_dir) / WORLD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def world_label(stamp: dict | None) -> str:
    """``home seed 43 (varied)`` / ``contract seed 1`` / ``unknown world``."""
    if not stamp:
        return "unknown world"
    return f"{stamp['world']} seed {stamp['seed']}" + (" (varied)" if stamp.get("vary") else "")
