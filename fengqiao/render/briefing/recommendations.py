"""工作建议: what each bureau is asked to do about its flagged places, and what the data's gaps call for."""
from __future__ import annotations

import datetime as dt

from fengqiao.core.bureaus import Bureau, county_bureau_name, township_office_name

from ..common import LEVEL_NAMES, LEVEL_RANK
from .season import weeks_to_festival

ACTIONS = {
    "红": "于48小时内组织专人赴实地开展全面排查，逐件核实相关纠纷，落实领导包案和化解稳控措施，"
          "必要时会同公安、信访、人社等部门联合处置，并及时向当地党委政府报告",
    "橙": "在一周内开展重点排查，摸清矛盾纠纷底数和当事人诉求，组织调解组织提前介入，防止矛盾激化升级",
}

# For yellow and blue places, listed together per county: "请X司法局对A、B<action>".
MILD_ACTIONS = {
    "黄": "加强日常排查和跟踪研判，做好调解力量调度",
    "蓝": "保持关注，做好常态化排查化解",
}


def recommendations(flagged: list[dict], completeness: dict, week: dt.date, names: dict[str, str],
                    bureaus: dict[str, Bureau]) -> list[str]:
    """Urgent places one by one, milder ones together per county and level, then the general requests."""
    out = []
    urgent = [f for f in flagged if f["risk_level"] in ("红", "橙")]
    for f in urgent:
        county_bureau = county_bureau_name(f["county_code"], names, bureaus)
        basis = f"（主要依据：{f['reasons'][0]}）" if f["reasons"] else ""
        if f["is_township"]:
            office = township_office_name(f["region_code"], names, bureaus)
            out.append(f"【{f['level_name']}】请{county_bureau}会同{office}{ACTIONS[f['risk_level']]}{basis}。")
        else:
            out.append(f"【{f['level_name']}】请{county_bureau}在{county_scope(f['county_name'])}范围内"
                       f"{ACTIONS[f['risk_level']]}{basis}。")
    milder: dict[tuple[str, str], list[str]] = {}
    for f in flagged:
        if f["risk_level"] in ("黄", "蓝") or f["risk_level"] is None:
            level = f["risk_level"] or "蓝"
            place = f["township_name"] if f["is_township"] else county_scope(f["county_name"])
            milder.setdefault((f["county_code"], level), []).append(place)
    for (county, level), places in sorted(milder.items(), key=lambda kv: (LEVEL_RANK[kv[0][1]], kv[0][0])):
        out.append(f"【{LEVEL_NAMES[level]}】请{county_bureau_name(county, names, bureaus)}对"
                   f"{'、'.join(places)}{MILD_ACTIONS[level]}。")
    if urgent:
        out.append("请收到预警的司法局、司法所在7日内通过预警邮件中的确认编号反馈核查及处置情况，"
                   "反馈结果将用于检验和改进研判模型。")
    if weeks_to_festival(week) <= 8:
        out.append("春节前为拖欠农民工工资问题高发期，请各地司法行政机关配合人社部门开展冬季攻坚，"
                   "对工程建设领域欠薪线索优先受理、快速调处。")
    if completeness.get("outages"):
        places = "、".join(f"{o['county']}{o['feed']}" for o in completeness["outages"])
        out.append(f"{places}数据本周中断，请信息中心督促补报；补报前相关地区的风险评分可能偏低，请结合实地排查研判。")
    for f in completeness["issues"]:
        if not f["serious"]:
            continue
        out.append(f"{f['label']}数据：{'；'.join(f['notes'])}。请信息中心核实数据报送情况，"
                   "相关地区研判结果请审慎使用。")
    if not flagged:
        out.insert(0, "本周未发现需重点关注的地区，请各地继续做好矛盾纠纷常态化排查化解工作。")
    return out


def county_scope(county_name: str) -> str:
    """``全区`` / ``全县`` / ``全市`` for a county-level unit's name."""
    return f"全{county_name[-1]}" if county_name and county_name[-1] in "区县市旗" else "全辖区"

