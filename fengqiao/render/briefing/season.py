"""季节性提示: wage arrears before Spring Festival; neighbour, property and traffic disputes in summer."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from fengqiao.core.weeks import weeks_to_spring_festival

from ..common import WORDS, count_change_text
from .frames import base_level, township_rows

SUMMER_TYPES = (("邻里", "type_neighbour"), ("物业", "type_property_mgmt"), ("道路交通事故", "type_traffic"))


def seasonal_hints(features: pd.DataFrame, week: dt.date) -> list[dict]:
    """季节性提示: wage arrears before Spring Festival; neighbour, property and traffic disputes in summer."""
    hints = []
    base = base_level(features)
    previous = week - dt.timedelta(days=7)
    to_festival = weeks_to_festival(week)
    if to_festival <= 8:
        text = (f"距春节约{to_festival}周，进入农民工工资支付集中期，拖欠工资引发的劳动争议和群体性讨薪易发多发。"
                if to_festival else "本周为春节所在周，节日期间值班值守和欠薪问题应急处置不可放松。")
        if "wage_arrears" in base.columns:
            per_week = base.groupby("week_start")["wage_arrears"].sum()
            this, prev = per_week.get(week), per_week.get(previous)
            if this is not None and not pd.isna(this):
                text += f"本周涉欠薪诉求{int(this):,}件，环比{count_change_text(this, prev, WORDS)}。"
        text += "请重点关注工程建设、劳动密集型企业集中的地区，配合人社部门做好欠薪线索快速调处。"
        hints.append({"title": "春节前欠薪问题", "text": text})
    middle = week + dt.timedelta(days=3)
    if middle.month in (6, 7, 8):
        parts = []
        towns = township_rows(features)
        for label, col in SUMMER_TYPES:
            if col in towns.columns:
                per_week = towns.groupby("week_start")[col].sum()
                this, prev = per_week.get(week), per_week.get(previous)
                if this is not None and not pd.isna(this):
                    parts.append(f"{label}纠纷{int(this):,}件（环比{count_change_text(this, prev)}）")
        text = "夏季夜间活动增多、用电用水和噪声问题集中，邻里、物业和道路交通事故纠纷进入高发期。"
        if parts:
            text += "本周" + "、".join(parts) + "。"
        text += "请加强城市社区和交通要道周边的排查化解，做好调解力量调度。"
        hints.append({"title": "夏季高发纠纷", "text": text})
    return hints


def weeks_to_festival(week: dt.date) -> int:
    try:
        return weeks_to_spring_festival(week)
    except ValueError:  # past the calendar in fengqiao.core.weeks: no seasonal hint
        return 99

