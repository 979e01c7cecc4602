"""The backtest as one self-contained HTML file: both protocols side by side, with four plots inline as SVG.

Written by ``fengqiao backtest`` (:mod:`jobs.training.backtest_report`) to
``<lake>/reports/backtest/backtest.html`` or ``--report PATH``. Readers are analysts and engineers: English
only.

Contents: a header with the data fingerprint (given by the caller: the content of the gold tables the
backtest read and of ``truth/episodes.csv``), the evaluated weeks, budget and model version; one table per
protocol (:mod:`models.backtest` defines every metric and both protocols); and four plots
(:mod:`models.backtest_plots`):

1. recall against the alert budget (``CURVE_BUDGETS``, 0.5 % to 10 % of townships a week), per protocol;
2. lead time before the peak of each detected episode, per detector and protocol;
3. a reliability diagram of the model's calibrated probabilities (``score`` against the 4-week label, and
   ``score_h1``/``score_h2``/``score_h4`` against the 1/2/4-week labels when those columns hold values):
   :func:`reliability_bins`;
4. false alerts on confounders by confounder kind, per detector and protocol.

The same data gives the same bytes: no timestamp in the file, and matplotlib's SVG ids and date metadata
are fixed.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from models.backtest import CURVE_BUDGETS, BacktestRun, recall_by_budget
from models.backtest_alerts import PROTOCOLS, alarm_rule_text
from models.backtest_metrics import PROB_HORIZON_WEEKS, labelled_rows
from models.backtest_plots import plot_confounders, plot_lead_times, plot_recall_budget, plot_reliability

RELIABILITY_BINS = 10
PROTOCOL_TITLES = {"equal_capacity": "Equal capacity (top share of townships every week)",
                   "as_sent": "As sent (each detector's own alarm rule, capped at the same budget)"}


# --- measurements behind the plots -------------------------------------------------------------------

# Quantile levels of the "tail" bins of the reliability diagram.
TAIL_LEVELS = np.array([0.0, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 1.0])


def reliability_bins(p, y, n_bins: int = RELIABILITY_BINS, strategy: str = "uniform") -> pd.DataFrame:
    """Bins of predicted probability: ``bin, lo, hi, n, mean_predicted, observed_rate``.

    ``strategy="tail"``: quantile edges at ``TAIL_LEVELS`` (half the rows in the first bin, then ever finer
    slices of the top: the top 0.1% is the last bin), which is where alerts are decided.
    ``strategy="uniform"``: bin ``i`` holds ``lo <= p < hi`` with ``lo = i / n_bins``; the last bin also holds
    ``p = 1``. ``strategy="quantile"``: the edges are the quantiles of ``p`` (as many rows in each bin as ties
    allow; duplicate edges merge bins), the last bin closed above. Escalation is rare, so nearly every
    township-week has a probability under 0.05: equal-width bins put almost all rows in the first bin and leave
    a few noisy points above it, quantile bins spread the points where the rows are. Empty bins keep their row
    with ``n = 0`` and NaN means. ``observed_rate`` is the share of positive labels."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    y = np.asarray(y, dtype=float)
    if strategy in ("quantile", "tail"):
        levels = np.linspace(0, 1, n_bins + 1) if strategy == "quantile" else TAIL_LEVELS
        edges = np.unique(np.quantile(p, levels)) if len(p) else np.array([0.0, 1.0])
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
        bounds = list(zip(edges[:-1], edges[1:]))
    elif strategy == "uniform":
        idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
        bounds = [(i / n_bins, (i + 1) / n_bins) for i in range(n_bins)]
    else:
        raise ValueError(f"unknown binning strategy {strategy!r}: uniform, quantile or tail")
    rows = []
    for i, (lo, hi) in enumerate(bounds):
        m = idx == i
        n = int(m.sum())
        rows.append({"bin": i, "lo": float(lo), "hi": float(hi), "n": n,
                     "mean_predicted": float(p[m].mean()) if n else float("nan"),
                     "observed_rate": float(y[m].mean()) if n else float("nan")})
    return pd.DataFrame(rows)


def reliability_series(run: BacktestRun, detector: str = "model") -> dict[str, pd.DataFrame]:
    """Reliability bins of the model's ``score`` (4-week label) and of ``score_h1/h2/h4`` when present."""
    d = run.detectors.get(detector)
    if d is None:
        return {}
    out = {}
    for label, column, horizon in (("score (4-week label)", "score", PROB_HORIZON_WEEKS),
                                   ("score_h1 (1-week label)", "score_h1", 1),
                                   ("score_h2 (2-week label)", "score_h2", 2),
                                   ("score_h4 (4-week label)", "score_h4", 4)):
        if column not in d or pd.to_numeric(d[column], errors="coerce").notna().sum() == 0:
            continue
        p, y = labelled_rows(d, run.episodes, run.weeks, column, horizon, run.label_end)
        if len(p):
            out[label] = reliability_bins(p, y, strategy="tail")
    return out


# --- HTML ------------------------------------------------------------------------------------------------

def _cell(v, spec: str | None = None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if spec:
        return format(v, spec)
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return html.escape(str(v))


TABLE_COLUMNS = [
    ("detector", "detector", None), ("alerts_per_week", "alerts / week", ".2f"), ("alerts", "alerts", None),
    ("episodes", "episodes", None), ("detected", "detected", None), ("recall", "recall", ".0%"),
    ("median_lead_weeks", "median lead (weeks)", ".1f"), ("precision", "precision", ".0%"),
    ("false_alerts", "false alerts", None), ("false_alerts_confounder", "false on confounders", None),
    ("average_precision", "avg precision (4 w)", ".3f"), ("brier", "Brier (4 w)", ".4f"),
]


# Two leads to read the detectors' median leads against (models.backtest, "Definitions"); one figure per run.
LEAD_REFERENCES = [
    ("lead_ceiling_weeks", "lead ceiling (a perfect detector, alerting each build-up in its first week)"),
    ("rule_alarm_lead_weeks",
     "keyword rule's every alarm, no budget: median lead (when the records first show a rise)"),
]


def _table_html(part: pd.DataFrame, proto: str) -> str:
    kinds = sorted(c for c in part.columns if c.startswith("fa_"))
    cols = TABLE_COLUMNS + [(k, k, None) for k in kinds]
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t, _ in cols)
    if proto == "as_sent":
        head += "<th>alarm rule</th>"
    body = []
    for r in part.itertuples(index=False):
        r = r._asdict()
        cells = "".join(f"<td>{_cell(r.get(c), s)}</td>" for c, _, s in cols)
        if proto == "as_sent":
            cells += f"<td class='rule'>{html.escape(alarm_rule_text(r['detector']))}</td>"
        body.append(f"<tr data-detector='{html.escape(r['detector'])}'>{cells}</tr>")
    return (f"<table class='detectors' data-protocol='{proto}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px} table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right} th{background:#f2f2f2}
td:first-child,td.rule{text-align:left} .meta td{text-align:left} .note{font-size:12px;color:#555}
figure{margin:12px 0} figcaption{font-size:12px;color:#555}
"""


def render_report(run: BacktestRun, fingerprint: str, budgets=CURVE_BUDGETS) -> str:
    """The report's HTML text for a :class:`~models.backtest.BacktestRun` (see the module docstring)."""
    table = run.table
    protocols = [p for p in PROTOCOLS if p in set(table["protocol"])]
    detectors = list(dict.fromkeys(table["detector"]))
    weeks = run.weeks
    model_version = (str(table.loc[table["detector"] == "model", "model_version"].iloc[0])
                     if (table["detector"] == "model").any() else "—")
    n_towns = int(next(iter(run.detectors.values()))["region_code"].nunique()) if run.detectors else 0
    meta = [("data fingerprint", fingerprint), ("lake", run.meta.get("lake", "—")),
            ("truth", run.meta.get("truth", "—")),
            ("evaluated weeks", f"{len(weeks)} ({weeks[0]} to {weeks[-1]})" if weeks else "0"),
            ("townships", str(n_towns)),
            ("alert budget", f"{run.budget_share:.1%} of townships per week"),
            ("small-count guard (as sent)", f"total_contacts >= {run.min_contacts} that week"),
            ("model", model_version),
            ("escalation episodes evaluated", str(int(table["episodes"].iloc[0])) if len(table) else "0"),
            *[(label, f"{table[col].iloc[0]:.1f} weeks") for col, label in LEAD_REFERENCES
              if col in table and len(table) and pd.notna(table[col].iloc[0])],
            ("labels known through", f"{run.label_end} (probability metrics use weeks whose "
                                     f"{PROB_HORIZON_WEEKS}-week horizon ends by then)")]
    meta_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in meta)

    curve = recall_by_budget(run, budgets, protocols)
    series = reliability_series(run)
    figures = [
        ("recall-budget", "Recall against alert budget",
         f"Share of escalation episodes alerted between start and peak, budgets "
         f"{', '.join(f'{b:.1%}' for b in budgets)} of townships per week. As sent, the model cannot exceed what "
         f"the run flagged (its budget and alert threshold).", plot_recall_budget(curve, detectors, protocols, run.budget_share)),
        ("lead-times", "Lead time before the peak",
         "Weeks between the first alert in an episode's [start, peak] and its peak, per detected episode "
         "(box: quartiles; in brackets: detected/evaluated episodes).", plot_lead_times(run, detectors, protocols)),
        ("reliability", "Reliability of the model's probabilities",
         "Evaluated township-weeks binned by quantiles of predicted probability (50%, 75%, 90%, 95%, 97.5%, 99%, "
         "99.5%, 99.9%: the last bin is the top 0.1%); "
         "observed share of rows whose township's escalation peaks within the horizon.", plot_reliability(series)),
        ("confounders", "False alerts on confounders by kind",
         "Alert-weeks inside a confounder's region and weeks and outside any escalation of that township.",
         plot_confounders(table, detectors, protocols)),
    ]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fengqiao backtest "
             f"{html.escape(fingerprint)}</title><style>{CSS}</style></head><body>",
             "<h1>Fengqiao backtest: detectors against the simulator's ground truth</h1>",
             f"<table class='meta'>{meta_html}</table>",
             "<p class='note'>Definitions of every metric and of both protocols: <code>models/backtest.py</code>. "
             "Simulated data: these figures show how well the pipeline separates planted escalations from "
             "planted confounders, not how it will do on real exports.</p>"]
    for proto in protocols:
        parts.append(f"<h2>{html.escape(PROTOCOL_TITLES[proto])}</h2>")
        parts.append(_table_html(table[table["protocol"] == proto], proto))
    for key, title, caption, svg in figures:
        parts.append(f"<h2>{html.escape(title)}</h2><figure id='{key}' class='plot'>{svg}"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if series:
        rows = []
        for label, bins in series.items():
            for b in bins[bins["n"] > 0].itertuples(index=False):
                rows.append(f"<tr><td>{html.escape(label)}</td><td>{b.lo:.3f}–{b.hi:.3f}</td><td>{b.n}</td>"
                            f"<td>{b.mean_predicted:.3f}</td><td>{b.observed_rate:.3f}</td></tr>")
        parts.append("<h2>Reliability bins</h2><table class='reliability'><thead><tr><th>probability</th><th>bin</th>"
                     "<th>rows</th><th>mean predicted</th><th>observed</th></tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
