"""The closing summary of ``fengqiao run``: where things are and what happened."""
from __future__ import annotations

from fengqiao.lake import Lake, read_table


def delivery_counts(alerts) -> tuple[int, int, int]:
    """(alerts delivered on every channel tried, on some but not all, on none) from gold/alerts rows.

    gold/alerts holds one row per attempt and channel: an alert counts as delivered only when each of its
    channels has a ``sent`` row, so a failed webhook beside a sent e-mail is not a delivery."""
    ok_rows = alerts[alerts["status"] == "sent"]
    sent = set(zip(ok_rows["alert_id"], ok_rows["channel"]))
    delivered = partly = undelivered = 0
    for alert_id, channels in alerts.groupby("alert_id")["channel"]:
        ok = sum((alert_id, channel) in sent for channel in set(channels))
        if ok == len(set(channels)):
            delivered += 1
        elif ok:
            partly += 1
        else:
            undelivered += 1
    return delivered, partly, undelivered


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
        delivered, partly, undelivered = delivery_counts(alerts[alerts["week_start"] == latest])
        lines.append(f"  alerts:    {delivered} delivered, {partly} partly delivered (a channel failed), "
                     f"{undelivered} not delivered this week (gold/alerts; mail copies in {lake.mailbox})")
    lines.append(f"  query:     fengqiao query \"select * from risk_scores where flagged\" --lake {lake.root}")
    return "\n".join(lines)
