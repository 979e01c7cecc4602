"""The weekly briefing for Party and government leaders (矛盾纠纷风险研判周报), one HTML file a week.

Made from frames, never from the lake: :class:`BriefingInputs` holds gold/risk_scores,
gold/region_week_features, reference/regions.csv (and bureaus.csv for unit names), the bronze manifest,
silver/quarantine, gold/feed_health, the week's silver hotline calls and the bureaus' response rates, as
the stage ``jobs/outputs/briefing.py`` reads them (``jobs/outputs/briefing_inputs.py``) and then writes the
files. :func:`build_context` turns them into plain values, one section module each; :func:`render_html`
fills the template. The page is self-contained (inline CSS and SVG, no scripts) so it can be mailed or
printed as is. It holds aggregates, region names and the scores' reasons only.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from fengqiao.core.bureaus import bureau_index
from fengqiao.core.regions import ALERT_LEVELS, city_of, county_of

from ..common import (
    LEVEL_COLOURS, LEVEL_TEXT_COLOURS, LEVELS, day_label, region_names, scrub, top_area_name, week_label,
)
from ..pdf import FONT_FAMILY
from .charts import trend_charts
from .completeness import data_completeness
from .composition import regional, source_mix, type_distribution
from .editions import EDITION_LABELS, city_codes, city_rows, narrow_to_city, repeat_villages
from .frames import weekly_totals
from .hotline import hotline_hotspots
from .overview import county_rows, hotspots, overview
from .recommendations import recommendations
from .responses import responses
from .season import seasonal_hints

TEMPLATES = Path(__file__).parent.parent / "templates"
# SVG text does not inherit the page's CSS fonts: name them (the PDF's embedded font first).
SVG_FONT = f"{FONT_FAMILY}, PingFang SC, Microsoft YaHei, Noto Sans CJK SC, Source Han Sans SC, sans-serif"


@dataclass(frozen=True)
class BriefingInputs:
    """What one week's briefing is made of, for the whole area (a county's edition narrows it).

    None: the table is missing, which the briefing says."""
    week: dt.date                       # the week shown (Monday)
    scores: pd.DataFrame                # gold/risk_scores, all weeks (the trend counts flagged townships)
    features: pd.DataFrame              # gold/region_week_features: keys, counts, type/wage/repeat columns if any
    regions: pd.DataFrame               # reference/regions.csv
    bureaus: pd.DataFrame | None        # reference/bureaus.csv (unit names in the recommendations)
    manifest: pd.DataFrame | None       # bronze manifest: feed, day (a date)
    quarantine: pd.DataFrame | None     # silver/quarantine: feed, reason, day (a date)
    feed_health: pd.DataFrame | None    # gold/feed_health
    # silver/hotline_calls of the week and the 8 before (county_code, dispute_type, week_start; None also
    # when unreadable: the types then come from all feeds)
    hotline_calls: pd.DataFrame | None
    response_rates: pd.DataFrame        # per county, jobs.gold.response_rates.RATE_COLUMNS


def build_context(inputs: BriefingInputs, county_code: str | None = None, city_code: str | None = None) -> dict:
    """Everything the template shows, as plain Python values (tested without rendering).

    With ``county_code`` only that county and its townships (and villages) are counted and shown; with
    ``city_code`` only that city. Without either, the whole drop: a province edition that ranks its cities
    when the drop spans several, else its one city's edition (:mod:`.editions`).
    """
    week, scores, features, regions = inputs.week, inputs.scores, inputs.features, inputs.regions
    names = {code: scrub(name) for code, name in region_names(regions).items()}
    area_name = scrub(top_area_name(regions))
    cities = city_codes(regions)
    edition = "province" if len(cities) > 1 else "city"
    if city_code is not None and county_code is None:
        city_code = city_of(str(city_code))
        if city_code not in cities:
            raise ValueError(f"{city_code} is not a city above the townships of reference/regions.csv")
        scores, features = narrow_to_city(scores, city_code), narrow_to_city(features, city_code)
        regions = narrow_to_city(regions, city_code, column="code")
        area_name, edition = names.get(city_code, city_code), "city"
    elif edition == "city" and cities:
        area_name = names.get(cities[0], area_name)
    if county_code is not None:
        edition = "county"
        county_code = county_of(str(county_code))
        if county_code not in set(regions.loc[regions["level"] == "county", "code"]):
            raise ValueError(f"{county_code} is not a county of reference/regions.csv")
        scores = scores[scores["county_code"].astype(str) == county_code]
        features = features[features["county_code"].astype(str) == county_code]
        regions = regions[(regions["code"] == county_code) | (regions["parent_code"] == county_code)]
        area_name = names.get(county_code, county_code)
    week_scores = scores[scores["week_start"] == week]
    if week_scores.empty:
        raise ValueError(f"gold/risk_scores has no scores for the week of {week}: score that week first")

    bureaus = bureau_index(inputs.bureaus)
    weekly = weekly_totals(features)
    # The places to act on are townships and counties (a city's or the province's flag only repeats theirs).
    flagged = hotspots(week_scores[week_scores["level"].isin(ALERT_LEVELS)], features, week, names)
    counties = county_rows(regions, features, week_scores, week, names)
    completeness = data_completeness(weekly, week, inputs.manifest, inputs.quarantine, inputs.feed_health,
                                     county_code)
    model_versions = sorted({str(v) for v in week_scores["model_version"].dropna()})

    return {
        "title": "矛盾纠纷风险研判周报",
        "week_start": week,
        "week_label": week_label(week),
        "area_name": area_name,
        "county_code": county_code,
        "is_county_edition": county_code is not None,
        "edition": edition,
        "edition_label": EDITION_LABELS[edition],
        "city_code": city_code if edition == "city" else None,
        "cities": city_rows(inputs.regions, inputs.features, week_scores, week, names) if edition == "province" else [],
        "villages": repeat_villages(features, week, names) if edition == "county" else [],
        "overview": overview(weekly, week_scores, week, flagged),
        "sources": source_mix(weekly, week),
        "types": type_distribution(features, week),
        "regional": regional(regions, features, week_scores, week, names, counties, county_code),
        "flagged": flagged,
        "hotline": hotline_hotspots(features, inputs.hotline_calls, week, names, county_code),
        "seasonal": seasonal_hints(features, week),
        "charts": trend_charts(weekly, scores, week),
        "counties": counties,
        "completeness": completeness,
        "recommendations": recommendations(flagged, completeness, week, names, bureaus),
        "responses": responses(inputs.response_rates, county_code),
        "model_versions": model_versions,
        "generated_at": now_label(),
        "levels": LEVELS,
        "svg_font": SVG_FONT,
        "level_colours": LEVEL_COLOURS,
        "level_text_colours": LEVEL_TEXT_COLOURS,
    }


def render_html(context: dict) -> str:
    """The briefing page from :func:`build_context`'s values."""
    return _environment().get_template("briefing.html.j2").render(**context)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def now_label() -> str:
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    return f"{now.year}年{day_label(now.date())} {now:%H:%M}"
