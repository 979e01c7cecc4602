"""The four plots of the backtest report (:mod:`models.backtest_report`), each as inline SVG text.

Recall against the alert budget, lead time before the peak, reliability of the model's probabilities and
false alerts on confounders by kind. matplotlib's SVG ids and date metadata are fixed: the same data gives
the same bytes.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from models.backtest import BacktestRun
from models.backtest_alerts import PROTOCOLS


def _pyplot():
    # matplotlib loads only when a report is drawn, with the file backend chosen before pyplot.
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Deterministic SVG: fixed ids, text as text (smaller, searchable), no creation date.
    matplotlib.rcParams.update({"svg.hashsalt": "fengqiao-backtest", "svg.fonttype": "none",
                                "font.family": "DejaVu Sans", "font.size": 9})
    return plt


def _svg(fig) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE: inline in HTML


def _colours(names):
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def plot_recall_budget(curve: pd.DataFrame, detectors: list[str], protocols=PROTOCOLS,
                       budget_share: float | None = None) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.2 * len(protocols), 3.8), sharey=True, squeeze=False)
    colours = _colours(detectors)
    for ax, proto in zip(axes[0], protocols):
        part = curve[curve["protocol"] == proto]
        for name in detectors:
            c = part[part["detector"] == name].sort_values("budget")
            ax.plot(c["budget"] * 100, c["recall"] * 100, marker="o", ms=3, label=name, color=colours[name],
                    lw=2.2 if name == "model" else 1.2)
        if budget_share is not None:
            ax.axvline(budget_share * 100, color="grey", ls=":", lw=1)
        ax.set_title(proto.replace("_", " "))
        ax.set_xlabel("alert budget (% of townships per week; dotted: this backtest's)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("recall (% of episodes detected)")
    axes[0][-1].legend(loc="lower right", fontsize=7)
    return _svg(fig)


def plot_lead_times(run: BacktestRun, detectors: list[str], protocols=PROTOCOLS) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.8 * len(protocols), 0.45 * len(detectors) + 1.6),
                             sharex=True, squeeze=False)
    rng = np.random.default_rng(0)  # jitter only; fixed so the report is reproducible
    from matplotlib.ticker import MaxNLocator  # after _pyplot(): matplotlib loads only to draw

    outcomes = {(name, proto): run.outcomes(name, proto) for proto in protocols for name in detectors}
    longest = max([float(o["lead_weeks"].max()) for o in outcomes.values() if o["detected"].any()], default=1.0)
    for ax, proto in zip(axes[0], protocols):
        labels = []
        for i, name in enumerate(detectors):
            out = outcomes[(name, proto)]
            leads = out.loc[out["detected"], "lead_weeks"].to_numpy(dtype=float)
            y = len(detectors) - 1 - i
            if len(leads):
                ax.boxplot([leads], positions=[y], vert=False, widths=0.5, showfliers=False)
                ax.scatter(leads, y + rng.uniform(-0.15, 0.15, len(leads)), s=10, alpha=0.6, zorder=3)
            labels.append(f"{name} ({len(leads)}/{len(out)})")
        ax.set_yticks(range(len(detectors)), list(reversed(labels)))
        ax.set_ylim(-0.7, len(detectors) - 0.3)
        ax.set_xlim(-0.5, longest + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(proto.replace("_", " "))
        ax.set_xlabel("weeks of lead before the peak (detected episodes)")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def plot_reliability(series: dict[str, pd.DataFrame]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    top = 0.0
    for label, bins in series.items():
        b = bins[bins["n"] > 0]
        top = max(top, float(np.nanmax(b[["mean_predicted", "observed_rate"]].to_numpy())) if len(b) else 0.0)
        ax.plot(b["mean_predicted"], b["observed_rate"], marker="o", ms=4, label=f"{label}, n={int(b['n'].sum())}")
    # Probabilities of a rare event crowd near 0: zoom to the range the bins cover (square axes).
    top = min(1.0, max(0.05, top * 1.1))
    ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label="perfect calibration")
    if not series:
        ax.text(0.5, 0.5, "no model probabilities in the evaluated weeks", ha="center", va="center")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed share escalating")
    ax.legend(loc="upper left", fontsize=7)
    ax.grid(alpha=0.3)
    return _svg(fig)


def plot_confounders(table: pd.DataFrame, detectors: list[str], protocols=PROTOCOLS) -> str:
    plt = _pyplot()
    kinds = sorted(c[3:] for c in table.columns if c.startswith("fa_"))
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.2 * len(protocols), 3.8), sharey=True, squeeze=False)
    colours = _colours(kinds)
    x = np.arange(len(detectors))
    for ax, proto in zip(axes[0], protocols):
        part = table[table["protocol"] == proto].set_index("detector")
        bottom = np.zeros(len(detectors))
        for kind in kinds:
            vals = np.array([float(part.at[d, f"fa_{kind}"]) if d in part.index else 0.0 for d in detectors])
            ax.bar(x, vals, bottom=bottom, label=kind, color=colours[kind])
            bottom += vals
        ax.set_xticks(x, detectors, rotation=35, ha="right")
        ax.set_title(proto.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("false alert-weeks on confounders (stacked by kind)")
    if kinds:
        axes[0][-1].legend(fontsize=7)
    return _svg(fig)
