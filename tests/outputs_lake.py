"""A tiny lake for the output tests: 2 counties × 2 townships, 10 weeks of features, scores,
quarantine and bronze manifest, regions.csv and bureaus.csv.

Personal strings are planted only where the outputs must never look (quarantine raw_masked), so a
test can prove they do not leak.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from fengqiao.lake import Lake, write_table

WEEK = dt.date(2025, 3, 17)             # ISO 2025-W12
WEEKS = [WEEK - dt.timedelta(days=7 * i) for i in range(9, -1, -1)]

PROVINCE, CITY = "370000000000", "370100000000"
LIXIA, SHIZHONG = "370102000000", "370103000000"
JIEFANGLU, QIANFOSHAN = "370102001000", "370102002000"
DAGUANYUAN, GANSHIQIAO = "370103001000", "370103002000"
TOWNSHIPS = {JIEFANGLU: "解放路街道", QIANFOSHAN: "千佛山街道", DAGUANYUAN: "大观园街道", GANSHIQIAO: "杆石桥街道"}
COUNTIES = {LIXIA: "历下区", SHIZHONG: "市中区"}

RED_REASONS = ["劳动争议（欠薪）记录为近8周均值的3.2倍", "群体性倾向调解案件3件"]
ORANGE_REASONS = ["物业纠纷记录为近8周均值的2.1倍", "退回工单5件"]
YELLOW_REASONS = ["辖区诉求总量较近8周均值上升45%"]

BUREAUS = {
    LIXIA: ("历下区司法局", "lixia-sfj@example.cn"),
    SHIZHONG: ("市中区司法局", "shizhong-sfj@example.cn"),
    JIEFANGLU: ("解放路街道司法所", "jiefanglu-sfs@example.cn"),
}

PLANTED_PERSONAL = ["张建国", "13812345678", "370102199003071234", "6222020200112233445", "经十路88号3单元"]


def regions_frame() -> pd.DataFrame:
    rows = [(PROVINCE, "山东省", "province", ""), (CITY, "济南市", "city", PROVINCE)]
    rows += [(code, name, "county", CITY) for code, name in COUNTIES.items()]
    rows += [(code, name, "township", code[:6] + "000000") for code, name in TOWNSHIPS.items()]
    df = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])
    df["lat"], df["lon"], df["population"] = 36.66, 117.0, 50000
    return df


def _features() -> pd.DataFrame:
    rows = []
    for w_i, week in enumerate(WEEKS):
        for t_i, code in enumerate(TOWNSHIPS):
            surge = 3 if (code == JIEFANGLU and week == WEEK) else 1
            hotline, orders, mediation = (20 + 2 * t_i + w_i) * surge, 10 + t_i, 5 + (w_i % 3)
            rows.append({"region_code": code, "level": "township", "county_code": code[:6] + "000000",
                         "week_start": week, "hotline_calls": hotline, "work_orders": orders,
                         "mediation_cases": mediation, "total_contacts": hotline + orders + mediation,
                         "wage_arrears": 1})
    town = pd.DataFrame(rows)
    county = (town.groupby(["county_code", "week_start"], as_index=False)
              [["hotline_calls", "work_orders", "mediation_cases", "total_contacts", "wage_arrears"]].sum())
    county["region_code"], county["level"] = county["county_code"], "county"
    return pd.concat([town, county[town.columns]], ignore_index=True)


def _scores() -> pd.DataFrame:
    rows = []
    for week in WEEKS[-3:]:
        for code in [*TOWNSHIPS, *COUNTIES]:
            level = "township" if code in TOWNSHIPS else "county"
            risk, reasons = None, []
            if week == WEEK and code == JIEFANGLU:
                risk, reasons = "红", RED_REASONS
            elif week == WEEK and code == GANSHIQIAO:
                risk, reasons = "橙", ORANGE_REASONS
            elif week == WEEK and code == SHIZHONG:
                risk, reasons = "黄", YELLOW_REASONS
            elif week == WEEKS[-2] and code == QIANFOSHAN:
                risk, reasons = "蓝", ["邻里纠纷略有增加"]
            score = {"红": 0.82, "橙": 0.56, "黄": 0.31, "蓝": 0.12}.get(risk, 0.03)
            rows.append({"region_code": code, "level": level, "week_start": week, "score": score,
                         "risk_level": risk, "flagged": risk is not None, "model_version": "gbm-test-2025.03",
                         "reasons": reasons, "county_code": code[:6] + "000000",
                         "region_name": TOWNSHIPS.get(code) or COUNTIES[code], "rank_in_week": None})
    return pd.DataFrame(rows)


def _quarantine() -> pd.DataFrame:
    planted = " ".join(PLANTED_PERSONAL)
    rows = [
        ("hotline", "hotline/2025-03-18/calls-001.jsonl", 17, "截断的JSON行", planted),
        ("hotline", "hotline/2025-03-19/calls-002.jsonl", 3, "截断的JSON行", planted),
        ("mediation", "mediation/2025-03-20/cases-001.csv", 41, "受理日期无法解析", planted),
        ("mediation", "mediation/2025-03-03/cases-001.csv", 9, "旧周的隔离记录", planted),  # another week
    ]
    df = pd.DataFrame(rows, columns=["feed", "source_file", "line_no", "reason", "raw_masked"])
    df["quarantined_at"] = pd.Timestamp("2025-03-24T02:00:00Z")
    return df


def _manifest() -> pd.DataFrame:
    rows = []
    for feed, days in (("hotline", 7), ("workorders", 7), ("mediation", 5)):
        for i in range(days):
            day = WEEK + dt.timedelta(days=i)
            rows.append({"feed": feed, "day": day.isoformat(), "file_name": f"batch-{i}.csv",
                         "bronze_path": f"{feed}/{day.isoformat()}/batch-{i}.csv", "sha256": "0" * 64,
                         "bytes": 1000, "landed_at": pd.Timestamp("2025-03-24T01:00:00Z")})
    return pd.DataFrame(rows)


def build_tiny_lake(root, with_quarantine: bool = True, with_manifest: bool = True) -> Lake:
    lake = Lake.at(root)
    lake.reference.mkdir(parents=True, exist_ok=True)
    regions_frame().to_csv(lake.reference / "regions.csv", index=False)
    pd.DataFrame([(code, unit, email, "") for code, (unit, email) in BUREAUS.items()],
                 columns=["region_code", "unit_name", "email", "webhook_url"]).to_csv(
        lake.reference / "bureaus.csv", index=False)
    write_table(_features(), lake, "gold", "region_week_features")
    write_table(_scores(), lake, "gold", "risk_scores")
    if with_quarantine:
        write_table(_quarantine(), lake, "silver", "quarantine", partition_by=("feed",))
    if with_manifest:
        lake.bronze_manifest.parent.mkdir(parents=True, exist_ok=True)
        _manifest().to_parquet(lake.bronze_manifest, index=False)
    return lake
