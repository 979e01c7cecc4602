"""The briefing as PDF (embedded CJK font, text layer, map colours), the new sections and the
per-county editions, on the tiny lake with type counts and repeat-caller shares added."""
from __future__ import annotations

import ctypes
import datetime as dt

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from fengqiao.core.disputes import DISPUTE_TYPES
from fengqiao.lake import read_table, write_table
from fengqiao.render.maps import LEVEL_FILLS, choropleth, sparkline
from fengqiao.render.pdf import FONT_FAMILY, font_path
from jobs.outputs import briefing as output_briefing
from jobs.outputs.briefing import render_briefing, render_county_briefings
from outputs_lake import (
    DAGUANYUAN, GANSHIQIAO, JIEFANGLU, LIXIA, QIANFOSHAN, SHIZHONG, TOWNSHIPS, WEEK, build_tiny_lake,
)

NEW_SECTIONS = ["三、来源构成", "四、类型分布", "五、区域分布", "六、热线热点与重复来电", "八、季节性提示"]


def _section(html: str, title: str) -> str:
    start = html.index(title)
    return html[start:html.index("</section>", start)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lake = build_tiny_lake(tmp_path_factory.mktemp("pdf") / "lake")
    features = read_table(lake.gold("region_week_features"))
    for i, (_, slug) in enumerate(DISPUTE_TYPES):
        features[f"type_{slug}"] = (features["total_contacts"] * (15 - i) // 120).astype("int64")
    surge = (features["region_code"] == JIEFANGLU) & (features["week_start"] == WEEK)
    features.loc[surge, "type_labour"] = 60                       # the red township's wage dispute
    features["repeat_caller_share"] = 0.1
    features.loc[surge, "repeat_caller_share"] = 0.45
    write_table(features, lake, "gold", "region_week_features")
    output_briefing.run(lake)
    return lake


def _pdf_text(doc) -> str:
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def _font_names(doc) -> set[str]:
    names = set()
    for page in doc:
        text = page.get_textpage()
        for i in range(pdfium_c.FPDFText_CountChars(text.raw)):
            if chr(pdfium_c.FPDFText_GetUnicode(text.raw, i)).isspace():
                continue
            buf, flags = ctypes.create_string_buffer(256), ctypes.c_int()
            pdfium_c.FPDFText_GetFontInfo(text.raw, i, buf, 256, ctypes.byref(flags))
            names.add(buf.value.decode("latin-1"))
    return names


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def test_pdf_is_written_with_the_embedded_cjk_font_and_a_text_layer(lake):
    pdf = lake.briefings / f"{WEEK.isoformat()}.pdf"
    assert pdf.exists() and (lake.briefings / "latest.pdf").read_bytes() == pdf.read_bytes()
    doc = pdfium.PdfDocument(str(pdf))
    assert 1 <= len(doc) <= 8
    text = _pdf_text(doc)
    assert "矛盾纠纷风险研判周报" in text and "解放路街道" in text and "杆石桥街道" in text
    for title in NEW_SECTIONS:
        assert title in text
    # Every drawn character comes from the packaged Noto Sans CJK SC (subset names "ABCDEF+<family>").
    fonts = _font_names(doc)
    family = FONT_FAMILY.replace(" ", "-")
    assert fonts and all(name.split("+", 1)[-1].startswith(family) for name in fonts), fonts
    assert font_path().name == "NotoSansCJK-Regular.ttc"


def test_the_map_is_drawn_in_warning_level_colours(lake):
    doc = pdfium.PdfDocument(str(lake.briefings / f"{WEEK.isoformat()}.pdf"))
    html = (lake.briefings / f"{WEEK.isoformat()}.html").read_text(encoding="utf-8")
    fills = set(_section(html, "五、区域分布").split('<path d="')[0:1]) and {
        part.split('fill="', 1)[1].split('"', 1)[0] for part in _section(html, "五、区域分布").split('<path d="')[1:]}
    # Filled by warning level, not volume: 历下区 holds the red township, 市中区 the orange one.
    assert fills == {LEVEL_FILLS["红"], LEVEL_FILLS["橙"]}
    found = set()
    for page in doc:
        pixels = np.asarray(page.render(scale=1).to_pil().convert("RGB")).astype(int)
        for colour in fills:
            close = (np.abs(pixels - _hex(colour)).sum(axis=2) <= 12).sum()
            if close > 500:                                        # a filled area, not a legend swatch
                found.add(colour)
    assert found == fills


def test_sections_hold_the_new_figures(lake):
    html = (lake.briefings / f"{WEEK.isoformat()}.html").read_text(encoding="utf-8")
    sources = _section(html, "三、来源构成")
    assert "73.8%" in sources and "62.6%" in sources and "+11.2" in sources     # 186/252 vs 124/198
    types = _section(html, "四、类型分布")
    assert types.index("劳动争议") < types.index("婚姻家庭")                  # labour surged to the top
    regions = _section(html, "五、区域分布")
    assert regions.count("<path") == 2 and "历下区" in regions and "<circle" in regions
    assert "29.8" in regions                                                 # 149 per 50,000 residents
    hotspots = _section(html, "一、本周预警与工作建议")
    assert hotspots.count("<polyline") == 3                                  # one sparkline per flagged place
    hotline = _section(html, "六、热线热点与重复来电")
    assert "解放路街道" in hotline and "45%" in hotline and "本周全辖区热线重复来电占比" in hotline
    assert "2026" not in _section(html, "八、季节性提示")


def test_seasonal_hints():
    from fengqiao.render.briefing.season import seasonal_hints as _seasonal
    import pandas as pd

    rows = [{"region_code": JIEFANGLU, "level": "township", "county_code": LIXIA, "week_start": w,
             "total_contacts": 10, "wage_arrears": n, "type_neighbour": 4, "type_property_mgmt": 3,
             "type_traffic": 2} for w, n in ((dt.date(2025, 1, 6), 8), (dt.date(2024, 12, 30), 4),
                                              (dt.date(2025, 7, 14), 0), (dt.date(2025, 7, 7), 0))]
    features = pd.DataFrame(rows)
    winter = _seasonal(features, dt.date(2025, 1, 6))          # Spring Festival 2025-01-29
    assert [h["title"] for h in winter] == ["春节前欠薪问题"] and "涉欠薪诉求8件" in winter[0]["text"]
    summer = _seasonal(features, dt.date(2025, 7, 14))
    assert [h["title"] for h in summer] == ["夏季高发纠纷"] and "邻里纠纷4件" in summer[0]["text"]
    assert _seasonal(features, dt.date(2025, 3, 17)) == []


def test_county_editions_hold_only_their_townships(lake):
    paths = sorted(p for p in (lake.briefings / "county").rglob("*.html"))
    assert [p.parent.name for p in paths] == [LIXIA, SHIZHONG]
    lixia = (lake.briefings / "county" / LIXIA / f"{WEEK.isoformat()}.html").read_text(encoding="utf-8")
    assert "历下区" in lixia[:lixia.index("</header>")]
    for code in (JIEFANGLU, QIANFOSHAN):
        assert TOWNSHIPS[code] in lixia
    for code in (DAGUANYUAN, GANSHIQIAO):
        assert TOWNSHIPS[code] not in lixia
    assert "市中区" not in lixia.replace("市中区司法局", "")
    doc = pdfium.PdfDocument(str(lake.briefings / "county" / SHIZHONG / f"{WEEK.isoformat()}.pdf"))
    text = _pdf_text(doc)
    assert "杆石桥街道" in text and "大观园街道" in text and "解放路街道" not in text and "千佛山街道" not in text


def test_render_functions_return_their_paths(lake):
    path = render_briefing(lake, WEEK, county_code=LIXIA, pdf=False)
    assert path == lake.briefings / "county" / LIXIA / f"{WEEK.isoformat()}.html"
    assert [p.parent.name for p in render_county_briefings(lake, WEEK, pdf=False)] == [LIXIA, SHIZHONG]
    with pytest.raises(ValueError, match="not a county"):
        render_briefing(lake, WEEK, county_code="379999000000", pdf=False)


def test_map_and_sparkline_geometry():
    m = choropleth([{"code": LIXIA, "name": "历下区", "rate": 30.0, "highest": "红"},
                    {"code": SHIZHONG, "name": "市中区", "rate": 10.0, "highest": None}],
                   [{"name": "甲", "lat": 36.66, "lon": 117.05, "level": "红"},
                    {"name": "远处", "lat": 30.0, "lon": 100.0, "level": None}])
    assert len(m["counties"]) == 2 and m["counties"][0]["path"].startswith("M")
    assert m["counties"][0]["fill"] != m["counties"][1]["fill"] and m["counties"][0]["stroke_width"] > 1
    assert len(m["points"]) == 1 and 0 <= m["points"][0]["x"] <= m["width"]    # the far point is left out
    assert choropleth([{"code": "999999000000", "name": "x", "rate": 1, "highest": None}], [])["empty"]
    s = sparkline([1, 2, None, 4])
    assert len(s["lines"]) == 2 and s["last"]["y"] < s["height"] / 2
    assert sparkline([None, None])["empty"]
