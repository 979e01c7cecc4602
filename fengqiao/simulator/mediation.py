"""People's mediation cases: hand-kept registry rows with mixed date and amount formats, updated later."""
from __future__ import annotations

import datetime as dt
import random

from fengqiao.core.disputes import TYPE_LABELS

from . import people

DAY = 86400
MEDIATION_HEADER = ["案件编号", "纠纷类型", "纠纷来源", "行政区划代码", "受理日期", "发生日期", "当事人数", "涉案金额",
                    "涉及农民工", "民转刑倾向", "群体性倾向", "调解组织", "调解员", "调解结果", "案件状态", "纠纷简介",
                    "当事人姓名", "当事人电话", "更新时间"]
DATE_FORMATS = ("iso", "slash", "cn", "compact")


def fmt_date(d: dt.date, style: str) -> str:
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "compact":
        return d.strftime("%Y%m%d")
    return d.isoformat()


def fmt_amount(r: random.Random, yuan: float) -> str:
    x = r.random()
    if yuan <= 0 or x < 0.12:
        return ""
    if x < 0.55:
        return str(int(round(yuan, -2)))
    if x < 0.8:
        return f"{yuan:,.2f}"
    return f"{yuan / 10000:.1f}万".replace(".0万", "万")


class MediationRecords:
    """Mixed into ``FeedBuilder``: one case and its later updates."""

    def case(self, r, ts: int, ti: int, ki: int, u: float, source: str | None = None) -> None:
        """One case; ``source`` fixes its 纠纷来源 (an extra referred case), else it is drawn."""
        g, counts = self.geo, self.counts
        day = ts // DAY
        dtype = TYPE_LABELS[ki]
        surge, lev, ep = self.episode_state(ti, ki, day, u)
        wage = self.wage(r, ki, day, ep if surge else -1)
        ci = int(g.t_county[ti])
        self.case_seq[ci] = self.case_seq.get(ci, 0) + 1
        cid = f"{g.county_codes[ci][:6]}{self.days[day].year}TJ{self.case_seq[ci]:06d}"
        style = self.county_style[ci] if r.random() < 0.8 else r.choice(DATE_FORMATS)
        accepted = fmt_date(self.days[day], style)
        if self.dirt.want("unparseable_date", day, "mediation"):
            accepted = r.choice(("去年腊月", "2025-02-30", "2025年13月5日", "3/4"))
            self.dirt.note("unparseable_date", "mediation", self.daystr[day], f"{cid}:{accepted}")
        occurred = fmt_date(self.start + dt.timedelta(days=day - r.randint(0, 60)), style)
        var = self.var
        group_kind = self.collective(ep, dtype)  # today: the type decides; a varied world: the episode
        group = surge and group_kind
        parties = r.randint(5, var.group_parties_max) if group and r.random() < 0.4 + 0.5 * lev else \
            (2 if r.random() < var.parties_two else r.randint(3, 4))
        if surge and ep >= 0 and r.random() < 0.5:  # the episode's aggrieved parties register a case
            first = r.randrange(len(self.plan.pools[ep]))
            names = [p[0] for p in (self.plan.pools[ep] * 2)[first:first + min(parties, 3)]]
            phone_txt = self.plan.pools[ep][first][1]
        else:
            names = [people.person_name(r) for _ in range(min(parties, 3))]
            phone_txt = people.phone(r, g.t_code[ti][:4]) if r.random() < 0.8 else ""
        for n in names:
            self.pii.add("name", n)
        self.pii.add("phone", phone_txt)
        amount = {"劳动争议": 8000 * parties, "征地拆迁": 50000, "合同": 30000, "道路交通事故": 20000, "损害赔偿": 8000,
                  "婚姻家庭": 20000, "物业": 3000 * parties, "消费": 2000, "医疗": 40000}.get(dtype, 5000)
        amount = fmt_amount(r, amount * r.lognormvariate(0, 0.8))
        yn = lambda p: "" if r.random() < var.flag_blank else ("是" if r.random() < p else "否")  # noqa: E731
        threat = (0.1 + 0.5 * lev) if surge and not group_kind else var.flag_threat
        collective = (0.5 + 0.4 * lev) if parties >= 5 else var.flag_collective
        id_txt = people.id_number(r, g.t_code[ti][:6]) if r.random() < 0.05 else None
        self.pii.add("id_number", id_txt)
        escalate = r.random() < self.cue_p(surge, ep, lev)
        vname = r.choice(g.t_villages[ti])[1]
        brief = self.words.mediation_brief(r, dtype, wage, g.t_name[ti] + vname, names, escalate, id_txt)
        region = self.region(r, ti, 0.55, "mediation", day)
        org = (g.t_name[ti] if r.random() < 0.5 else vname) + "人民调解委员会"
        x = r.random()  # one draw, as random.choices made it before referrals.py: later draws stay put
        source = source or self.case_source(x, ti, ki, day)
        row = [cid, dtype, source, region, accepted, occurred, str(parties), amount,
               yn(1.0 if wage else var.flag_migrant),
               yn(threat), yn(collective), org, people.person_name(r), "调解中", "已受理", brief,
               "、".join(names) + ("等" if parties > 3 else ""), phone_txt, self.stamp(ts)]
        p_fail = (var.fail_surge[0] + var.fail_surge[1] * lev) if surge else var.fail_base
        x = r.random()
        result = "调解不成功" if x < p_fail else "终止" if x < p_fail + 0.03 else "调解成功"
        if r.random() < var.settle_on_spot and not surge:  # settled on the spot, registered once
            row[13], row[14] = result, "已结案"
            versions = [(ts, list(row))]
        else:
            versions = [(ts, list(row))]
            t2 = ts
            if r.random() < 0.3:  # a progress update before the outcome
                t2 += r.randint(DAY, 10 * DAY)
                row[14], row[18] = "调解中", self.stamp(t2)
                versions.append((t2, list(row)))
            t2 += r.randint(DAY, 20 * DAY)
            row[13], row[14], row[18] = result, "已结案", self.stamp(t2)
            versions.append((t2, list(row)))
        if r.random() < 0.25:  # the follow-up visit
            t2 = versions[-1][0] + r.randint(2 * DAY, 15 * DAY)
            row[14], row[18] = "已回访", self.stamp(t2)
            versions.append((t2, list(row)))
        for vts, vrow in versions:
            self.emit("mediation", vts, ti, vrow, r)
        counts["mediation_cases"] += 1
        counts["mediation_versions"] += len(versions)
