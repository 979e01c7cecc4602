"""Stage: the weekly briefing from the gold tables.

The whole drop: outputs/briefings/<week>.html and .pdf (copied to latest.html and latest.pdf), the province
edition when the drop spans several cities, else its city's; one edition per city when there are several:
outputs/briefings/city/<city_code>/<week>.html and .pdf; one per county:
outputs/briefings/county/<county_code>/<week>.html and .pdf. The inputs are read once
(``briefing_inputs.py``); :mod:`fengqiao.render.briefing` makes the page, :mod:`fengqiao.render.pdf` the PDF.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path

from fengqiao.lake import Lake
from fengqiao.render.briefing import BriefingInputs, build_context, render_html
from fengqiao.render.briefing.editions import city_codes
from fengqiao.render.common import as_date
from fengqiao.render.pdf import html_to_pdf
from jobs.outputs.briefing_inputs import read_briefing_inputs

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike, week_start: dt.date | str | None = None) -> Path:
    """Render the briefing of ``week_start`` (default: the latest scored week) as HTML and PDF, city-wide
    and per county; return the city-wide HTML's path."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    week = as_date(week_start) if week_start is not None else None
    inputs = read_briefing_inputs(lake, week)
    path = _publish(lake, inputs)
    log.info("briefing written to %s (and %s)", path, path.with_suffix(".pdf").name)
    cities = city_codes(inputs.regions)
    if len(cities) > 1:
        for code in cities:
            _publish(lake, inputs, city_code=code)
        log.info("%d city editions written under %s", len(cities), lake.briefings / "city")
    county_paths = [_publish(lake, inputs, county_code=code) for code in _county_codes(inputs)]
    log.info("%d county editions written under %s", len(county_paths), lake.briefings / "county")
    return path


def render_briefing(lake: Lake, week_start: dt.date | None = None, county_code: str | None = None,
                    pdf: bool = True, city_code: str | None = None) -> Path:
    """Write the briefing of ``week_start`` (default: the latest scored week) as HTML and PDF and
    return the HTML's path.

    The whole drop: ``briefings/<week>.html|.pdf`` and copies ``latest.html|.pdf``. With ``county_code``
    (12 digits), the county's edition with only its regions: ``briefings/county/<code>/<week>.html|.pdf``;
    with ``city_code``, the city's: ``briefings/city/<code>/<week>.html|.pdf``.
    """
    return _publish(lake, read_briefing_inputs(lake, week_start), county_code, pdf, city_code)


def render_county_briefings(lake: Lake, week_start: dt.date | None = None, pdf: bool = True) -> list[Path]:
    """One edition per county of regions.csv (HTML paths; a PDF beside each)."""
    inputs = read_briefing_inputs(lake, week_start)
    return [_publish(lake, inputs, county_code=code, pdf=pdf) for code in _county_codes(inputs)]


def _county_codes(inputs: BriefingInputs) -> list[str]:
    regions = inputs.regions
    return sorted(regions.loc[regions["level"] == "county", "code"].astype(str))


def _publish(lake: Lake, inputs: BriefingInputs, county_code: str | None = None, pdf: bool = True,
             city_code: str | None = None) -> Path:
    context = build_context(inputs, county_code=county_code, city_code=city_code)
    html = render_html(context)
    if county_code is not None:
        folder = lake.briefings / "county" / context["county_code"]
    elif city_code is not None:
        folder = lake.briefings / "city" / context["city_code"]
    else:
        folder = lake.briefings
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{context['week_start'].isoformat()}.html"
    _write_atomically(target, html)
    if pdf:
        html_to_pdf(html, target.with_suffix(".pdf"))
    if county_code is None and city_code is None:
        for suffix in (".html", ".pdf") if pdf else (".html",):
            latest = lake.briefings / f"latest{suffix}"
            tmp = latest.with_suffix(suffix + ".tmp")
            shutil.copyfile(target.with_suffix(suffix), tmp)
            os.replace(tmp, latest)
    return target


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
