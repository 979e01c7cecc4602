"""The weekly briefing: sections, figures, the SVG trend, no personal data, escaping."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from fengqiao.lake import read_table, write_table
from fengqiao.core.schemas import QUARANTINE, columns_of
from fengqiao.render.briefing import build_context
from fengqiao.render.briefing.charts import line_chart, nice_ticks
from jobs.outputs import briefing as output_briefing
from jobs.outputs.briefing_inputs import read_briefing_inputs
from outputs_lake import (
    GANSHIQIAO, JIEFANGLU, ORANGE_REASONS, PLANTED_PERSONAL, RED_REASONS, WEEKS,
    YELLOW_REASONS, build_tiny_lake, regions_frame,
)

SECTIONS = ["一、本周预警与工作建议", "二、总体态势", "三、来源构成", "四、类型分布", "五、区域分布",
            "六、热线热点与重复来电", "七、趋势", "八、季节性提示", "九、数据完整性", "十、预警反馈情况"]
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def _section(html: str, title: str) -> str:
    start = html.index(title)
    end = html.index("</section>", start)
    return html[start:end]


@pytest.fixture(autouse=True)
def _no_pdf(monkeypatch):
    """These tests read the HTML; the PDF (seconds per edition) is tested in test_briefing_pdf.py."""
    def fake_pdf(html, target):
        target.write_bytes(b"%PDF-1.7 placeholder")
        return target

    monkeypatch.setattr("jobs.outputs.briefing.html_to_pdf", fake_pdf)


@pytest.fixture
def lake(tmp_path):
    return build_tiny_lake(tmp_path / "lake")


def test_briefing_holds_every_section_the_week_and_the_flagged_places(lake):
    path = output_briefing.run(lake)

    assert path == lake.briefings / "2025-03-17.html"
    html = path.read_text(encoding="utf-8")
    assert (lake.briefings / "latest.html").read_text(encoding="utf-8") == html
    assert '<meta charset="utf-8">' in html
    assert "《矛盾纠纷风险研判周报》" in html
    assert "2025年第12周（3月17日—3月23日）" in html
    for title in SECTIONS:
        assert title in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")

    overview = _section(html, "二、总体态势")
    assert "252" in overview and "198" in overview      # this week's and last week's totals
    assert "↑27.3%" in overview                        # 环比

    hotspots = _section(html, "一、本周预警与工作建议")
    for name in ("解放路街道", "杆石桥街道"):
        assert name in hotspots
    for reason in RED_REASONS + ORANGE_REASONS + YELLOW_REASONS:
        assert reason in hotspots
    assert hotspots.index("解放路街道") < hotspots.index("杆石桥街道")   # red before orange
    assert "82%" in hotspots and "56%" in hotspots
    assert "background: #cf1322" in hotspots and "background: #fa8c16" in hotspots
    assert "千佛山街道" not in hotspots                                   # flagged last week only

    trend = _section(html, "七、趋势")
    assert trend.count("<svg") == 2 and "<polyline" in trend
    assert "3/17" in trend and "群众诉求总量" in trend and "预警乡镇（街道）数" in trend

    counties = _section(html, "五、区域分布")
    rows = re.findall(r"<tr><td class=\"left\">(.*?)</td>", counties)
    assert [r.split("（")[0] for r in rows] == ["历下区", "市中区"]     # ranked by highest level
    assert "149" in counties and "103" in counties

    completeness = _section(html, "九、数据完整性")
    assert "截断的JSON行：2条" in completeness and "受理日期无法解析：1条" in completeness
    assert "旧周的隔离记录" not in completeness                         # another week's rejects
    assert "5/7" in completeness and "7/7" in completeness

    advice = _section(html, "一、本周预警与工作建议")
    assert "请历下区司法局会同解放路街道司法所" in advice
    assert "请市中区司法局会同杆石桥街道司法所" in advice
    assert "gbm-test-2025.03" in html


def test_the_first_page_carries_the_warnings_and_advice_and_names_the_city(lake):
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    positions = [html.index(f"<h2>{title}</h2>") for title in SECTIONS]
    assert positions == sorted(positions)            # warnings and 工作建议 first, before the overview
    first = _section(html, "一、本周预警与工作建议")
    assert "重点风险区域" in first and "工作建议" in first
    masthead = html[html.index("<header"):html.index("</header>")]
    assert "济南市" in masthead and "山东省" not in masthead  # the city's edition names its city


def test_briefing_holds_no_personal_data(lake):
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    # The planted strings sit in quarantine.raw_masked, which the briefing must never show.
    for planted in PLANTED_PERSONAL:
        assert planted not in html
    assert not PHONE.search(html) and not ID_NUMBER.search(html)
    # The patterns do catch what they are meant to (so the check above can fail).
    assert PHONE.search(f"<td>{PLANTED_PERSONAL[1]}</td>") and ID_NUMBER.search(f" {PLANTED_PERSONAL[2]} ")


def test_numbers_in_reasons_are_masked(lake):
    scores = read_table(lake.gold("risk_scores"))
    scores["reasons"] = [list(r) + (["来电人13912345678反复来电"] if code == JIEFANGLU else [])
                         for code, r in zip(scores["region_code"], scores["reasons"])]
    write_table(scores, lake, "gold", "risk_scores")

    html = output_briefing.run(lake).read_text(encoding="utf-8")

    assert "13912345678" not in html and "来电人[电话]反复来电" in html


def test_missing_quarantine_and_manifest_are_stated(tmp_path):
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    completeness = _section(html, "九、数据完整性")
    assert "未找到原始数据落地清单" in completeness and "未找到隔离记录表" in completeness


def test_a_feed_outage_becomes_a_recommendation(lake):
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    assert "本周有2天未收到数据" in _section(html, "九、数据完整性")          # a note only:
    assert "请信息中心核实" not in _section(html, "一、本周预警与工作建议")             # 2 days missing is common

    manifest = pd.read_parquet(lake.bronze_manifest)
    manifest = manifest[~((manifest["feed"] == "mediation") & (manifest["day"] >= "2025-03-20"))]
    manifest.to_parquet(lake.bronze_manifest, index=False)
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    assert "人民调解案件数据：本周有4天未收到数据。请信息中心核实" in _section(html, "一、本周预警与工作建议")


def test_a_quiet_week_with_an_empty_quarantine(tmp_path):
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False)
    write_table(pd.DataFrame(columns=columns_of(QUARANTINE)), lake, "silver", "quarantine", partition_by=("feed",))
    scores = read_table(lake.gold("risk_scores"))
    scores["flagged"], scores["risk_level"] = False, None
    write_table(scores, lake, "gold", "risk_scores")

    html = output_briefing.run(lake).read_text(encoding="utf-8")

    assert "本周无预警地区" in _section(html, "一、本周预警与工作建议")
    assert "本周未发现需重点关注的地区" in _section(html, "一、本周预警与工作建议")
    assert "未找到隔离记录表" not in html and "截断的JSON行" not in html


def test_an_earlier_week_and_an_unscored_week(lake):
    path = output_briefing.run(lake, "2025-03-10")
    html = path.read_text(encoding="utf-8")
    assert path.name == "2025-03-10.html"
    assert "2025年第11周（3月10日—3月16日）" in html and "千佛山街道" in _section(html, "一、本周预警与工作建议")
    with pytest.raises(ValueError, match="no scores"):
        output_briefing.run(lake, dt.date(2024, 1, 1))


def test_region_names_are_escaped(lake):
    regions = regions_frame()
    regions.loc[regions["code"] == GANSHIQIAO, "name"] = "<script>alert(1)</script>街道"
    regions.to_csv(lake.reference / "regions.csv", index=False)
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;街道" in html


def test_line_chart_ticks_and_gaps():
    assert nice_ticks(252) == [0, 100, 200, 300]
    assert nice_ticks(0) == [0, 1]
    weeks = WEEKS[-5:]
    chart = line_chart(weeks, [10, 12, None, 9, 30], "t", "件", "#000")
    assert len(chart["lines"]) == 2 and len(chart["points"]) == 4
    xs = [p["x"] for p in chart["points"]]
    assert xs == sorted(xs) and chart["left"] <= xs[0] and xs[-1] <= chart["right"]
    ys = [p["y"] for p in chart["points"]]
    assert all(chart["top"] <= y <= chart["bottom"] for y in ys)
    assert ys[-1] == min(ys)                                   # the highest value is drawn highest
    assert line_chart(weeks, [None] * 5, "t", "件", "#000")["empty"]



def test_quarantine_reasons_are_shown_in_chinese():
    from fengqiao.render.common import quarantine_reason_zh

    assert quarantine_reason_zh("unparseable_date:受理日期 | a date or time is not in any known format") == "日期时间格式无法识别（受理日期）"
    assert quarantine_reason_zh("stray_header_row | a repeated header row inside the file") == "文件中间夹带表头行"
    assert quarantine_reason_zh(None) == "未注明"
    # An unknown code is shown as it is, but never with personal data in it.
    assert "13812345678" not in quarantine_reason_zh("odd | 13812345678")


def test_response_rates_per_county_are_reported(tmp_path):
    """Alerts sent and bureaus' dispositions (gold/alerts, gold/alert_dispositions) appear per county."""

    import pandas as pd

    from fengqiao.lake import write_table
    from outputs_lake import JIEFANGLU, LIXIA, WEEK, build_tiny_lake

    lake = build_tiny_lake(tmp_path)
    sent_at = pd.Timestamp(WEEK, tz="UTC") + pd.Timedelta(days=1)
    alerts = pd.DataFrame({
        "alert_id": ["A1", "A2"], "region_code": [JIEFANGLU, LIXIA], "week_start": [WEEK, WEEK],
        "risk_level": ["红", "橙"], "recipient_unit": ["解放路街道司法所", "历下区司法局"], "channel": ["email", "email"],
        "sent_at": [sent_at, sent_at], "status": ["sent", "sent"], "recipient_address": ["a@x", "b@x"], "detail": [None, None],
    })
    write_table(alerts, lake, "gold", "alerts")
    dispositions = pd.DataFrame({
        "alert_id": ["A1"], "region_code": [JIEFANGLU], "week_start": [WEEK], "recipient_unit": ["解放路街道司法所"],
        "disposition": ["handled"], "disposition_zh": ["已处置"], "disposed_at": [sent_at + pd.Timedelta(days=2)],
        "received_via": ["file"], "note_masked": [""], "received_at": [sent_at + pd.Timedelta(days=2)],
    })
    write_table(dispositions, lake, "gold", "alert_dispositions")
    responses = build_context(read_briefing_inputs(lake, WEEK))["responses"]
    assert responses["sent"] == 2 and responses["acknowledged"] == 1
    (row,) = responses["rows"]
    assert row["county"] == "历下区" and row["share"] == "50%" and row["median_days"] == "2.0"


def test_overview_gives_week_on_week_and_year_on_year_change():
    import pandas as pd

    from fengqiao.render.briefing.frames import COUNT_COLUMNS
    from fengqiao.render.briefing.overview import overview as _overview

    week = dt.date(2026, 3, 16)
    weeks = [week - dt.timedelta(weeks=52), week - dt.timedelta(days=7), week]
    weekly = pd.DataFrame([[10, 5, 5, 20], [20, 10, 10, 40], [25, 10, 15, 50]], index=weeks, columns=COUNT_COLUMNS)
    scores = pd.DataFrame({"level": [], "flagged": [], "risk_level": []})
    total = _overview(weekly, scores, week, [])["feeds"][-1]
    assert (total["this"], total["previous"], total["year_ago"]) == (50, 40, 20)
    assert total["change"] == "↑25.0%" and total["yoy"] == "↑150.0%"
    without_last_year = _overview(weekly.drop(index=weeks[0]), scores, week, [])
    assert without_last_year["feeds"][-1]["yoy"] == "—"
    assert "同比" not in without_last_year["lead"] and "同比上升150.0%" in _overview(weekly, scores, week, [])["lead"]


def _feed_health_rows(week, rows):
    """gold/feed_health rows (jobs.gold.feed_health.COLUMNS) for ``week``: (feed, county, name, status, records,
    baseline, ratio, days_since_data)."""
    from jobs.gold.feed_health import COLUMNS, FEED_ZH, STATUS_ZH

    out = []
    for feed, county, name, status, records, baseline, ratio, since in rows:
        out.append({"feed": feed, "feed_zh": FEED_ZH[feed], "county_code": county, "county_name": name,
                    "week_start": week, "records": records, "days_with_data": 0 if records == 0 else 7,
                    "last_data_date": week - dt.timedelta(days=since - 6), "days_since_data": since,
                    "baseline_median": baseline, "ratio": ratio, "others_ratio": 1.0, "status": status,
                    "status_zh": STATUS_ZH[status], "is_outage": status == "outage",
                    "is_catch_up": status == "catch_up", "week_complete": True})
    return pd.DataFrame(out, columns=COLUMNS)


def test_outages_and_catch_ups_are_listed_per_feed_and_county(lake):
    from outputs_lake import LIXIA, SHIZHONG, WEEK

    section = _section(output_briefing.run(lake).read_text(encoding="utf-8"), "九、数据完整性")
    assert "未找到数据报送监测表" in section  # no gold/feed_health yet: said, not silently skipped

    health = _feed_health_rows(WEEK, [
        ("hotline", LIXIA, "历下区", "outage", 0, 174.0, 0.0, 14),
        ("workorders", SHIZHONG, "市中区", "catch_up", 220, 90.0, 2.44, 0),
        ("mediation", LIXIA, "历下区", "ok", 40, 41.0, 0.98, 0),
    ])
    write_table(health, lake, "gold", "feed_health")
    html = output_briefing.run(lake).read_text(encoding="utf-8")
    section = _section(html, "九、数据完整性")
    assert "热线·历下区：本周0条（近8周中位数174条），已连续14天无数据" in section
    assert "判定为数据中断；该地区本周风险评分可能偏低" in section
    assert "工单·市中区：本周220条（近8周中位数90条），为常态的244%，系中断后的集中补报" in section
    assert "人民调解·历下区" not in section  # a normal feed is not listed
    assert "历下区热线数据本周中断，请信息中心督促补报" in _section(html, "一、本周预警与工作建议")

    # The county edition lists only its own county's feeds.
    shizhong = build_context(read_briefing_inputs(lake, WEEK), county_code=SHIZHONG)["completeness"]
    assert shizhong["outages"] == [] and [c["county"] for c in shizhong["catch_ups"]] == ["市中区"]

    write_table(_feed_health_rows(WEEK, [("hotline", LIXIA, "历下区", "ok", 170, 174.0, 0.98, 0)]),
                lake, "gold", "feed_health")
    section = _section(output_briefing.run(lake).read_text(encoding="utf-8"), "九、数据完整性")
    assert "未发现数据中断或集中补报" in section and "判定为数据中断" not in section


def test_every_quarantine_reason_silver_writes_has_a_chinese_label():
    """The briefing's 数据完整性 names each quarantine reason in Chinese, the parse-time rules' codes too."""
    from fengqiao.render.common import QUARANTINE_REASONS_ZH
    from jobs.silver.reasons import REASON_TEXT
    from jobs.silver.rules import ROW_LEVEL

    for code in set(REASON_TEXT) | set(ROW_LEVEL.values()):
        assert code in QUARANTINE_REASONS_ZH, code


def test_a_change_reads_the_same_in_a_table_cell_and_in_a_sentence():
    """One helper writes both: arrows in cells, words in the lead and seasonal text; under 10 records both counts
    (a sentence calls a change from 0 "no comparable data")."""
    from fengqiao.render.common import WORDS, count_change_text

    cases = {(8, 4): ("4→8件", "由4件变为8件"), (4, 0): ("0→4件", "无可比数据"), (0, 8): ("8→0件", "由8件变为0件"),
             (30, 8): ("↑275.0%", "上升275.0%"), (100, 125): ("↓20.0%", "下降20.0%"), (12, 12): ("持平", "持平"),
             (None, 3): ("—", "无可比数据"), (float("nan"), 3): ("—", "无可比数据")}
    for (this, previous), (cell, sentence) in cases.items():
        assert count_change_text(this, previous) == cell
        assert count_change_text(this, previous, WORDS) == sentence
