"""The words of an alert: subject, body, the work asked of the bureau and how to answer.

Plain values in, text out; :mod:`fengqiao.delivery.alert_plan` decides which alerts exist and who gets them.
The text holds aggregates, region names and the scores' reasons only (already scrubbed by the caller).
"""
from __future__ import annotations

import datetime as dt

from fengqiao.core.bureaus import Bureau, township_office_name

from .common import LEVEL_NAMES, day_label, probability_text, week_label, week_short_label

TREND_WEEKS = 4  # weeks of total contacts an alert shows

ACTIONS = {
    "红": "请于48小时内组织专人赴实地开展全面排查，逐件核实相关纠纷，落实包案化解和稳控措施，并及时向当地党委政府报告。",
    "橙": "请在一周内开展重点排查，摸清矛盾纠纷底数和当事人诉求，组织调解力量提前介入，防止矛盾激化升级。",
    "黄": "请将该地区纳入日常排查重点，加强跟踪研判。",
    "蓝": "请保持关注，做好常态化排查化解。",
}

# What a bureau is asked to answer, in exactly the codes and channels that the dispositions intake accepts
# (fengqiao/delivery/dispositions.py: DISPOSITIONS; a signed file in the inbox or a signed POST).
REPLY_INSTRUCTIONS = (
    "请于收到本提示后7日内回复核查及处置结果，处置结果只填以下三种之一："
    "已核实（经核查确有风险）、已排除（经核查无风险）、已处置（已化解或已妥善处置）。",
    "回复方式：以本单位回执密钥签名后，通过回执接口提交；或将签名的回执表"
    "（确认编号、处置结果、处置时间、备注）报送回执目录。回复时请注明下列确认编号。",
)


def alert_subject(level: str | None, place: str, week: dt.date) -> str:
    return (f"【{LEVEL_NAMES[level]}预警】" if level else "【风险提示】") + \
        f"{place}矛盾纠纷风险提示（{week_short_label(week)}）"


def level_title(level: str | None) -> str:
    """``红色预警`` …, or ``风险提示`` for a flagged region without a colour."""
    return f"{LEVEL_NAMES[level]}预警" if level else "风险提示"


def trend_text(points) -> str | None:
    """``3月10日当周 45件 → 3月17日当周 102件`` from (week, total contacts or None) pairs."""
    if not points:
        return None
    return " → ".join(f"{day_label(w)}当周 {n:,}件" if n is not None else f"{day_label(w)}当周 —" for w, n in points)


def action_text(level: str | None, code: str, names: dict[str, str], index: dict[str, Bureau],
                is_township: bool) -> str:
    """工作建议 for the level; a county bureau receiving a township's alert is asked to work with its office."""
    action = ACTIONS.get(level or "蓝")
    if is_township and index.get(code) is None:
        action = f"请会同{township_office_name(code, names, index)}" + action.removeprefix("请")
    return action


def alert_body(unit: str, place: str, code: str, week: dt.date, level: str | None, score: float,
               reasons: tuple[str, ...], trend: str | None, ref: str, model_version, horizon_weeks: int,
               action: str) -> str:
    lines = [f"{unit}：", ""]
    lines.append(f"经矛盾纠纷风险研判模型分析，{place}（区划代码{code}）{week_label(week)}"
                 f"被列为【{level_title(level)}】地区，未来{horizon_weeks}周内矛盾纠纷升级的估计概率为"
                 f"{probability_text(score)}。")
    lines.append("")
    lines.append("主要研判依据：")
    if reasons:
        lines.extend(f"  {i}. {r}" for i, r in enumerate(reasons, start=1))
    else:
        lines.append("  （未提供）")
    lines.append("")
    if trend:
        lines.append(f"近{TREND_WEEKS}周群众诉求总量（热线、工单、人民调解合计）：")
        lines.append(f"  {trend}")
        lines.append("")
    lines.append(f"工作建议：{action}")
    lines.append("")
    lines.extend(REPLY_INSTRUCTIONS)
    lines.append(f"回复确认编号：{ref}")
    lines.append("")
    lines.append("——")
    lines.append("本提示由 Fengqiao 矛盾纠纷风险预警系统自动发送，仅含汇总统计，不含个人信息；"
                 "风险概率为模型估计，供排查参考。" + (f"模型版本：{model_version}。" if model_version else ""))
    return "\n".join(lines) + "\n"
