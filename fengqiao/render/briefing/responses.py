"""预警反馈情况: per county, alerts sent so far and how many the bureaus have answered."""
from __future__ import annotations

import pandas as pd

from ..common import scrub


def responses(rates: pd.DataFrame, county_code: str | None) -> dict:
    """Rows of ``rates`` (per county: alerts_sent, acknowledged, ack_share, median_days_to_respond; from
    gold/alerts and gold/alert_dispositions), narrowed to ``county_code``, as the section shows them."""
    if not rates.empty and county_code is not None:
        rates = rates[rates["county_code"].astype(str) == county_code]
    rows = [{
        "county": scrub(r.county_name) if isinstance(r.county_name, str) else r.county_code,
        "sent": int(r.alerts_sent), "acknowledged": int(r.acknowledged),
        "share": f"{r.ack_share:.0%}",
        "median_days": "—" if pd.isna(r.median_days_to_respond) else f"{r.median_days_to_respond:.1f}",
    } for r in rates.itertuples()]
    return {"rows": rows, "sent": sum(r["sent"] for r in rows), "acknowledged": sum(r["acknowledged"] for r in rows)}
