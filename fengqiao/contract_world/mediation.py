"""The people's mediation registry: one case per dispute, exported when entered and again when it changes.

Each county runs its own copy of the registry with its own habits: a case-number style, a favourite date format
(of the four), an amount style, and in one or two counties an export as .xlsx. Cases are entered a few days
after acceptance, closed later (many on the same day: a quarrel settled on the spot), and some are revisited
(已回访). Cases about a hardening matter have more parties, fail more often, and carry the 群体性 / 民转刑
tendencies — often, not always.
"""
from __future__ import annotations

import datetime as dt

from . import people
from .escalation_talk import MATTER
from .phrasing import context, fill, log_uniform
from .situations import BANK
from .timefmt import hand_date, local

HEADER = ["案件编号", "纠纷类型", "纠纷来源", "行政区划代码", "受理日期", "发生日期", "当事人数", "涉案金额", "涉及农民工", "民转刑倾向",
          "群体性倾向", "调解组织", "调解员", "调解结果", "案件状态", "纠纷简介", "当事人姓名", "当事人电话", "更新时间"]
SOURCES = ("主动排查", "当事人申请", "热线转办", "法院委派", "公安移交", "信访转办", "其他")
_NO_MONEY = {"婚姻家庭": 0.55, "邻里": 0.5, "山林土地": 0.4, "其他": 0.6, "房屋宅基地": 0.35}
_COMMITTEE = {"医疗": "医疗纠纷人民调解委员会", "道路交通事故": "道路交通事故人民调解委员会", "劳动争议": "劳动人事争议人民调解委员会"}


def habits(g) -> dict:
    """Per county: id style, date style, amount style, xlsx or not; drawn once per run."""
    rng = g.rng
    out = {}
    counties = g.w.geo.counties
    n_xlsx = 1 if len(counties) <= 2 else rng.randint(1, 2)
    xlsx = {c.code for c in rng.sample(counties, n_xlsx)}
    for c in counties:
        out[c.code] = {"date": rng.randrange(4), "money": rng.choices((0, 1, 2), (0.6, 0.25, 0.15))[0],
                       "id": rng.randrange(2), "xlsx": c.code in xlsx and rng.random() < 0.8,
                       "mediators": {}}
    return out


def _money(rng, yuan: float | None, style: int) -> str:
    if yuan is None:
        return ""
    style = style if rng.random() < 0.8 else rng.randrange(3)
    if style == 1:
        return f"{yuan:,.2f}"
    if style == 2 and yuan >= 10000:
        return f"{yuan / 10000:.1f}万".replace(".0万", "万")
    return str(int(round(yuan)))


def _date(rng, d: dt.date, style: int) -> str:
    return hand_date(d, style if rng.random() < 0.8 else rng.randrange(4))


def _mediator(g, town) -> str:
    mediators = g.habits[town.county]["mediators"]
    pool = mediators.get(town.code)
    if pool is None:  # each township has its few mediators, named the first time they are needed
        pool = mediators[town.code] = [people.name(g.rng)[0] for _ in range(g.rng.randint(2, 5))]
    return g.rng.choice(pool)


def case(g, day: int, town, dtype: str, source: str | None = None, *, lead=None, order_ref: str | None = None,
         ep=None, prog: float | None = None, kind: str = "base", parties: int | None = None, old: bool = False) -> None:
    rng, w = g.rng, g.w
    day = g.registry_backlog(town.county, day)
    if day >= w.days:
        return
    kind = ep.kind if ep is not None else kind
    hab = g.habits[town.county]
    if source is None:
        source = rng.choices(SOURCES, g.source_mix[town.county])[0]
    accepted = w.date(day)
    occurred = accepted - dt.timedelta(days=int(rng.expovariate(1 / 12)) if rng.random() < 0.9 else rng.randint(30, 400))
    if old and rng.random() < 0.7:  # a petition backlog holds matters that have waited months or years
        occurred = accepted - dt.timedelta(days=rng.randint(60, 900))
    hard = min(prog, 1.0) if prog is not None else 0.0
    lo, hi = BANK[dtype]["amount"]
    yuan = None if rng.random() < _NO_MONEY.get(dtype, 0.15) else max(200.0, log_uniform(rng, lo, hi, 2.3))
    crowd = ep is not None and ep.crowd
    if parties is None:
        if ep is not None:
            parties = (max(3, int(ep.n_people * (0.2 + 0.8 * hard) * rng.uniform(0.5, 1.1))) if crowd
                       else rng.randint(2, 3 + int(3 * hard)))
        else:
            parties = rng.choices((2, 3, 4, 5, rng.randint(6, 12)), (0.74, 0.12, 0.07, 0.04, 0.03))[0]
    if yuan is not None and (crowd or parties >= 6):  # a group's claim is the sum of its members' claims, roughly
        yuan *= max(1, parties) * rng.uniform(0.3, 1.0)
    wage = dtype == "劳动争议" and rng.random() < 0.7
    # outcome and timing
    if kind == "escalation" and prog is not None:
        p_ok = 0.1 if prog > 1 else max(0.08, 0.55 - 0.5 * hard)
    elif kind == "resolved_buildup" and prog is not None:
        p_ok = 0.9 if prog >= 0.8 else 0.5
    else:
        p_ok = w.p["med_success"]
    r = rng.random()
    result = "调解成功" if r < p_ok else ("调解不成功" if r < p_ok + (1 - p_ok) * 0.8 else "终止")
    still_open = kind == "escalation" and prog is not None and prog <= 1 and rng.random() < 0.3 + 0.4 * hard
    entry = day + (0 if rng.random() < 0.6 else (rng.randint(1, 3) if rng.random() < 0.88 else rng.randint(4, 10)))
    close = day + (0 if rng.random() < 0.35 else min(60, int(rng.lognormvariate(1.8, 0.8))))
    close = max(close, entry)
    # the 民转刑 / 群体性 tendencies: set often, not always, as a matter hardens; rarely otherwise
    if ep is not None and kind == "escalation":
        p_mzx, p_qt = (0.03, 0.1 + 0.6 * hard) if crowd else (0.15 + 0.6 * hard, 0.02)
    elif ep is not None:
        p_mzx, p_qt = (0.02, 0.08) if crowd else (0.06, 0.01)
    else:
        p_mzx, p_qt = 0.003, (0.25 if parties >= 10 else 0.002)
    yn = lambda p: "" if rng.random() < 0.06 else ("是" if rng.random() < p else "否")  # noqa: E731
    # parties and the case description
    lead = lead or people.person(rng)
    others = [people.person(rng) for _ in range(1 if parties <= 2 or crowd else min(parties - 1, 3))]
    masked = rng.random() < 0.4
    nm = (lambda p: p.masked) if masked else (lambda p: p.name)  # noqa: E731
    ctx = context(rng, dtype, (lo, hi), town.name, thing=ep.thing if ep else "", n=parties)
    cause = rng.choice(BANK[dtype]["brief"].split("|"))
    if ep is not None:
        said = fill(rng.choice(MATTER[dtype][1]), ctx)
        brief = f"{nm(lead)}等{parties}人反映{said}，{fill(MATTER[dtype][3], ctx)}。"
        if hard > 0.6 and rng.random() < 0.5:
            brief += rng.choice(("当事人情绪激动，矛盾有激化风险。", "多次调解未果。", "双方积怨较深。", "已报告属地党委政府。"))
    elif crowd or parties >= 6:
        brief = f"{nm(lead)}等{parties}人{cause}。"
    else:
        brief = f"{nm(lead)}与{nm(others[0])}{cause}。"
    if yuan is not None and rng.random() < 0.5:
        brief += f"涉及金额约{yuan / 10000:.1f}万元。" if yuan >= 10000 else f"涉及金额{int(yuan)}元。"
    if order_ref:
        brief += rng.choice((f"（热线工单{order_ref}转办）", f"由12345热线转办，工单号{order_ref}。", "热线转办。"))
    names = "、".join([lead.name] + [o.name for o in others]) if not crowd else f"{lead.name}等{parties}人"
    phones = lead.phone + ("、" + others[0].phone if others and rng.random() < 0.4 else "")
    village = rng.choice(w.geo.villages_of.get(town.code) or [None])
    region = village.code if (village is not None and rng.random() < 0.45) else town.code
    org_tail = _COMMITTEE.get(dtype)
    org = (g.county[town.county].name + org_tail if org_tail and rng.random() < 0.6 else
           (village.name if village is not None and region != town.code else town.name) + "人民调解委员会")
    g.case_seq[(town.county, accepted.year)] = seq = g.case_seq.get((town.county, accepted.year), 0) + 1
    cid = (f"TJ{town.county[:6]}{accepted.year}{seq:05d}" if hab["id"] == 0
           else f"（{accepted.year}）{g.county[town.county].name}人调字第{seq}号")
    base = {"案件编号": cid, "纠纷类型": dtype, "纠纷来源": source, "行政区划代码": region, "受理日期": _date(rng, accepted, hab["date"]),
            "发生日期": _date(rng, occurred, hab["date"]), "当事人数": parties, "涉案金额": _money(rng, yuan, hab["money"]),
            "涉及农民工": yn(0.95 if wage else 0.01), "民转刑倾向": yn(p_mzx), "群体性倾向": yn(p_qt), "调解组织": org,
            "调解员": _mediator(g, town), "调解结果": "调解中", "案件状态": "已受理", "纠纷简介": brief, "当事人姓名": names,
            "当事人电话": phones, "更新时间": ""}
    _damage(g, base, cid)
    snaps = []
    if close == entry and not still_open:
        snaps.append((entry, result, "已结案"))
    else:
        snaps.append((entry, "调解中", rng.choice(("已受理", "调解中"))))
        if not still_open:
            snaps.append((close, result, "已结案"))
    if not still_open and result == "调解成功" and rng.random() < 0.3:
        snaps.append((close + rng.randint(7, 30), result, "已回访"))
    for i, (d, res, status) in enumerate(snaps):
        if d >= w.days:
            break
        row = dict(base)
        row["调解结果"], row["案件状态"] = res, status
        row["更新时间"] = local(g.moment(d, rng.randint(8, 18)))
        out_day = g.export_delay("mediation", town.county, d)
        g.out.add("mediation", out_day, f"{row['更新时间']}{cid}#{i}", (town.county, [row[h] for h in HEADER]))
        g.counts["case_snapshots"] += 1
    g.counts["mediation"] += 1


def _damage(g, row: dict, cid: str) -> None:
    """A very few hand-entry slips the contract does not allow: a non-standard type, no code, a half date."""
    r = g.rng.random()
    if r < 0.0005:
        row["纠纷类型"] = {"劳动争议": "劳动纠纷", "婚姻家庭": "家庭纠纷", "邻里": "邻里纠纷"}.get(row["纠纷类型"], "民事纠纷")
        g.out.damage("mediation", cid, "纠纷类型 not one of the 15")
    elif r < 0.0015:
        row["行政区划代码"] = ""
        g.out.damage("mediation", cid, "行政区划代码 empty")
    elif r < 0.0020:
        row["受理日期"] = row["受理日期"][:7]
        g.out.damage("mediation", cid, "受理日期 incomplete")
