"""Editions by level (issue 21): a province edition ranks its cities, city editions name their city, county
editions list villages whose disputes recur."""
from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from fengqiao.lake import read_table, write_table
from jobs.outputs import briefing as output_briefing
from outputs_lake import CITY, JIEFANGLU, LIXIA, PROVINCE, WEEK, WEEKS, build_tiny_lake

QINGDAO, SHINAN, BADAGUAN = "370200000000", "370202000000", "370202001000"
VILLAGE, QUIET_VILLAGE = JIEFANGLU[:9] + "201", JIEFANGLU[:9] + "202"


@pytest.fixture(autouse=True)
def _no_pdf(monkeypatch):
    monkeypatch.setattr("jobs.outputs.briefing.html_to_pdf", lambda html, target: target.write_bytes(b"%PDF"))


def _section(html: str, title: str) -> str:
    start = html.index(title)
    return html[start:html.index("</section>", start)]


def _add_rows(lake, table: str, rows: list[dict]) -> None:
    frame = read_table(lake.gold(table))
    shutil.rmtree(lake.gold(table))
    write_table(pd.concat([frame, pd.DataFrame(rows)], ignore_index=True), lake, "gold", table)


@pytest.fixture
def province_lake(tmp_path):
    """The tiny 济南 lake plus a second city (青岛市 市南区 八大关街道, red this week) and one village of
    解放路街道 named in three of the last four weeks."""
    lake = build_tiny_lake(tmp_path / "lake")
    regions = pd.read_csv(lake.reference / "regions.csv", dtype=str)
    extra = pd.DataFrame([(QINGDAO, "青岛市", "city", PROVINCE), (SHINAN, "市南区", "county", QINGDAO),
                          (BADAGUAN, "八大关街道", "township", SHINAN), (VILLAGE, "甲村", "village", JIEFANGLU),
                          (QUIET_VILLAGE, "乙村", "village", JIEFANGLU)], columns=["code", "name", "level", "parent_code"])
    extra["lat"], extra["lon"], extra["population"] = "36.06", "120.38", "40000"
    pd.concat([regions, extra], ignore_index=True).to_csv(lake.reference / "regions.csv", index=False)
    counts = {"hotline_calls": 30, "work_orders": 10, "mediation_cases": 5, "total_contacts": 45, "wage_arrears": 0}
    rows = [{"region_code": code, "level": level, "county_code": code[:6] + "000000", "week_start": w, **counts}
            for w in WEEKS for code, level in ((BADAGUAN, "township"), (SHINAN, "county"), (QINGDAO, "city"))]
    village = {"hotline_calls": 2, "work_orders": 0, "mediation_cases": 1, "total_contacts": 3, "wage_arrears": 0}
    rows += [{"region_code": VILLAGE, "level": "village", "county_code": LIXIA, "week_start": w, **village}
             for w in WEEKS[-4:] if w != WEEKS[-2]]
    rows += [{"region_code": QUIET_VILLAGE, "level": "village", "county_code": LIXIA, "week_start": WEEK, **village}]
    _add_rows(lake, "region_week_features", rows)
    scores = [{"region_code": code, "level": level, "week_start": w, "score": 0.9 if w == WEEK else 0.02,
               "risk_level": "红" if w == WEEK else None, "flagged": w == WEEK, "model_version": "gbm-test-2025.03",
               "reasons": ["信访转办案件本周3件，高于前8周平均的0.4件"] if w == WEEK else [],
               "county_code": code[:6] + "000000", "region_name": name, "rank_in_week": None}
              for w in WEEKS[-3:] for code, level, name in ((BADAGUAN, "township", "八大关街道"),
                                                            (SHINAN, "county", "市南区"), (QINGDAO, "city", "青岛市"))]
    _add_rows(lake, "risk_scores", scores)
    return lake


def test_a_drop_of_several_cities_gets_a_province_edition_that_ranks_them(province_lake):
    path = output_briefing.run(province_lake)
    html = path.read_text(encoding="utf-8")
    assert "山东省（全省版）" in html
    regions = _section(html, "五、区域分布")
    cities = re.findall(r"<tr><td>(\d+)</td><td class=\"left\">(.*?)</td>", regions)
    # 青岛市 has a red township and 济南市 a red one too: equal highest level, 济南市 has two flagged townships
    assert [name for _, name in cities[:2]] == ["济南市", "青岛市"]
    assert "八大关街道" in regions and "解放路街道" in regions      # the top townships are named
    # The city's own flag is not a place to act on: the warnings list townships and counties only.
    warnings = _section(html, "一、本周预警与工作建议")
    assert "八大关街道" in warnings and "青岛市（" not in warnings


def test_each_city_of_a_province_drop_gets_an_edition_that_names_it(province_lake):
    output_briefing.run(province_lake)
    for code, name, other in ((CITY, "济南市", "八大关街道"), (QINGDAO, "青岛市", "解放路街道")):
        html = (province_lake.briefings / "city" / code / f"{WEEK}.html").read_text(encoding="utf-8")
        assert f"{name}（全市版）" in html
        assert other not in html                                 # another city's places stay out
    qingdao = (province_lake.briefings / "city" / QINGDAO / f"{WEEK}.html").read_text(encoding="utf-8")
    assert "市南区" in _section(qingdao, "五、区域分布")


def test_a_one_city_drop_has_a_city_edition_and_no_city_folder(tmp_path):
    lake = build_tiny_lake(tmp_path / "lake")
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    assert "济南市（全市版）" in html and "全省版" not in html
    assert not (lake.briefings / "city").exists()


def test_a_county_edition_lists_villages_whose_disputes_recur(province_lake):
    output_briefing.run(province_lake)
    html = (province_lake.briefings / "county" / LIXIA / f"{WEEK}.html").read_text(encoding="utf-8")
    assert "历下区（分县版）" in html
    villages = _section(html, "纠纷反复发生的村（社区）")
    row = re.search(r"<td class=\"left\">甲村</td><td class=\"left\">解放路街道</td><td class=\"num\">(\d+)</td>"
                    r"<td class=\"num\">(\d+)</td>\s*<td class=\"num\">(\d+)</td>", villages)
    assert row and row.groups() == ("3", "9", "3")                # this week, 4 weeks, weeks named
    assert "乙村" not in villages                                   # named in one week only
    other = (province_lake.briefings / "county" / SHINAN / f"{WEEK}.html").read_text(encoding="utf-8")
    assert "纠纷反复发生的村（社区）" not in other                   # no village codes there: no list
