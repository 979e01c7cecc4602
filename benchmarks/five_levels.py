"""Five levels of gold/region_week_features on a built lake (issue 21): rows per level, and whether each
level's counts equal the sum of its children's, week by week. Run on demand, never as a test.

    .venv/bin/python benchmarks/five_levels.py /path/to/lake

Prints rows and distinct regions per level, then for each parent level the number of (region, week) rows
whose count columns differ from the sum over their children (villages: the village sums may only fall short
of their township's, since a township also counts its records that name no village).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTS = ["hotline_calls", "work_orders", "mediation_cases", "total_contacts", "wage_arrears", "referral_cases",
          "court_referral_cases", "police_referral_cases", "petition_referral_cases", "hotline_referral_cases",
          "line_12345_calls"]
# child level -> (digits of the child's code that name its parent, parent level)
PARENTS = {"village": (9, "township"), "township": (6, "county"), "county": (4, "city"), "city": (2, "province")}


def level_report(features) -> list[str]:
    lines = ["| level | rows | regions | weeks | records (total_contacts) |", "|---|---|---|---|---|"]
    for level in ("village", "township", "county", "city", "province"):
        rows = features[features["level"] == level]
        lines.append(f"| {level} | {len(rows):,} | {rows['region_code'].nunique():,} | {rows['week_start'].nunique()} "
                     f"| {int(rows['total_contacts'].sum()):,} |")
    lines += ["", "| children → parent | parent rows | rows whose counts differ from the children's sum |",
              "|---|---|---|"]
    for child, (digits, parent_level) in PARENTS.items():
        rows = features[features["level"] == child]
        sums = rows.groupby([rows["region_code"].str[:digits].str.ljust(12, "0"), "week_start"])[COUNTS].sum()
        parent = features[features["level"] == parent_level].set_index(["region_code", "week_start"])[COUNTS]
        joined = parent.join(sums, rsuffix="_children", how="left").fillna(0)
        if child == "village":
            bad = sum((joined[f"{c}_children"] > joined[c]) for c in COUNTS).astype(bool).sum()
            rule = "villages exceed their township"
        else:
            bad = sum((joined[f"{c}_children"] != joined[c]) for c in COUNTS).astype(bool).sum()
            rule = "differ"
        lines.append(f"| {child} → {parent_level} | {len(parent):,} | {int(bad)} ({rule}) |")
    return lines


def main(argv=None) -> None:
    from fengqiao.lake import Lake, read_table

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        raise SystemExit(__doc__.split("\n\n")[1])
    features = read_table(Lake.at(Path(args[0])).gold("region_week_features"))
    print("\n".join(level_report(features)))


if __name__ == "__main__":
    main()
