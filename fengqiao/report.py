"""The closing summary of ``fengqiao run``: where things are and what happened."""
from __future__ import annotations

from fengqiao.lake import Lake, read_table


def summarise_run(lake: Lake, seconds: float) -> str:
    scores = read_table(lake.gold("risk_scores"))
    latest = scores["week_start"].max()
    week = scores[scores["week_start"] == latest]
    flagged = week[week["flagged"]]
    lines = [
        f"done in {seconds:.0f} s",
        f"  lake:      {lake.root}",
        f"  briefing:  {lake.briefings / 'latest.html'}",
        f"  week:      {latest} (latest scored)",
        f"  scored:    {int((week['level'] == 'township').sum())} townships, {int((week['level'] == 'county').sum())} counties "
        f"({len(scores)} region-weeks in all, model {week['model_version'].iloc[0] if len(week) else '-'})",
        f"  flagged:   {int((flagged['level'] == 'township').sum())} townships, {int((flagged['level'] == 'county').sum())} counties "
        + (f"({', '.join(f'{lvl} {n}' for lvl, n in flagged['risk_level'].value_counts().items())})" if len(flagged) else ""),
    ]
    if lake.gold("alerts").exists():
        alerts = read_table(lake.gold("alerts"))
        # gold/alerts holds one row per delivery attempt and channel: count alerts, not rows.
        this_week = alerts[alerts["week_start"] == latest]
        delivered = set(this_week.loc[this_week["status"] == "sent", "alert_id"])
        undelivered = set(this_week["alert_id"]) - delivered
        lines.append(f"  alerts:    {len(delivered)} delivered, {len(undelivered)} not delivered this week "
                     f"(gold/alerts; mail copies in {lake.mailbox})")
    lines.append(f"  query:     fengqiao query \"select * from risk_scores where flagged\" --lake {lake.root}")
    return "\n".join(lines)
