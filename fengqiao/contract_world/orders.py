"""The unified work-order feed: one order per request, exported as a snapshot at each status change.

Lifecycle 受理 → 分派 → 办理中 → (退回 → 分派 …) → 办结, then a satisfaction call-back. Not every status change is
exported (the platform exports a row when the record is touched in a way its export job notices), so an order
shows up two to five times with growing updated_at. Orders about a hardening matter are returned more often,
marked repeat when the same person comes back about the same matter, and rated lower.
"""
from __future__ import annotations

import datetime as dt

from . import people
from .escalation_talk import MATTER
from .phrasing import context, fill
from .situations import BANK
from .timefmt import iso

HEADER = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency", "status",
          "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction", "updated_at"]

_STATUS, _CLOSED, _SAT, _UPDATED = (HEADER.index(h) for h in ("status", "closed_at", "satisfaction", "updated_at"))
_PREFIX = ("来电人反映：", "市民来电反映", "群众反映，", "来电人称", "来电反映：", "")
_NOTE_HOT = ("来电人情绪激动。", "来电人称如不解决将采取过激行为，请重点关注。", "涉及人数较多，请属地重点关注。", "来电人多次来电，情绪不稳定。",
             "来电人表示将继续反映，请尽快处理。")


def _unit(g, town, category: str) -> str:
    county = g.county[town.county].name
    short = town.name[:-2] if town.kind == "街道" else town.name[:-1]
    big = category.split("/")[0]
    return {"劳动社保": f"{county}人力资源和社会保障局", "社会治安": f"{county}公安局{short}派出所",
            "城乡建设": f"{county}住房和城乡建设局", "住建": f"{county}住房和城乡建设局", "国土资源": f"{county}自然资源局",
            "自然资源": f"{county}自然资源局", "农业农村": f"{town.name}人民政府", "生态环境": f"衡阳市生态环境局{county}分局",
            "市场监管": f"{county}市场监督管理局", "卫生健康": f"{county}卫生健康局", "交通运输": f"{county}公安局交通警察大队",
            "公安": f"{county}公安局交通警察大队", "教育": f"{county}教育局", "民政": f"{county}民政局",
            "城市管理": f"{county}城市管理和综合执法局"}.get(big, f"{county}{short}司法所")


def _urgency(rng, kind: str, level: int) -> str:
    if kind == "escalation" and level >= 2:
        return rng.choices(("一般", "紧急", "特急"), (0.45, 0.4, 0.15) if level == 3 else (0.6, 0.33, 0.07))[0]
    return rng.choices(("一般", "紧急", "特急"), (0.9, 0.088, 0.012))[0]


def from_call(g, created: dt.datetime, town, region, dtype, call_id, person, gist, req, *, kind, prog, level, matter):
    rng = g.rng
    summary = rng.choice(_PREFIX) + gist
    if level >= 2 and rng.random() < 0.6:
        summary += "。" + rng.choice(_NOTE_HOT)
    elif kind == "habitual" and rng.random() < 0.7:
        summary += "。来电人多次反映同一问题。"
    elif req == "投诉" and rng.random() < 0.015:  # ordinary callers get angry too
        summary += "。" + rng.choice(_NOTE_HOT[:1] + _NOTE_HOT[4:])
    return _open(g, created, town, region, dtype, "热线", call_id, person, summary, kind, prog, level, matter)


def other_channel(g, day: int, town, dtype: str, channel: str, *, person=None, kind="base", ep=None, prog=None):
    rng = g.rng
    person = person or people.person(rng)
    sit = rng.choice(BANK[dtype]["situations"])
    ctx = context(rng, dtype, BANK[dtype]["amount"], town.name, thing=ep.thing if ep else "")
    if ep is not None:
        text = fill(rng.choice(MATTER[dtype][1]), ctx)
    else:
        text = fill(rng.choice(sit["say"]), ctx)
    lead = {"网络": ("网民留言：", "本人", ""), "移动端": ("", "用户反映：", "我"), "窗口": ("群众到窗口反映", "来访人反映：")}[channel]
    summary = rng.choice(lead) + text
    matter = f"{town.code}|{dtype}|{ep.eid if ep is not None else ''}"
    region = town.code
    created = g.moment(day, rng.randint(8, 17) if channel == "窗口" else None)
    return _open(g, created, town, region, dtype, channel, "", person, summary, kind, prog, 0, matter)


def _open(g, created, town, region, dtype, channel, call_id, person, summary, kind, prog, level, matter):
    rng, w = g.rng, g.w
    day = g.day_of(created)
    day2 = g.outage_day("orders", town.county, day)
    if day2 is None or day2 >= w.days:
        return None
    if day2 != day:  # entered from the backlog when the county's order system came back
        created = g.moment(day2, rng.randint(8, 18))
    g.n_order += 1
    oid = f"GD{w.daystr(day2)}{g.n_order:07d}"
    if summary and summary[-1] not in "。！？）":
        summary += "。"
    if rng.random() < w.p["pd_in_text"] * 0.6:
        summary += rng.choice(("（联系人：{n}，电话{p}）", "联系电话{p}。", "（{n}，{p}）")).format(n=person.name, p=person.phone)
    planted = g.forms.words("workorders", person)
    if planted:
        summary += planted + "。"
    key = (person.phone, matter)
    prev = g.orders_of.get(key)
    g.orders_of[key] = oid
    category = rng.choice(BANK[dtype]["categories"])
    urgency = _urgency(rng, kind, level)
    due = created + dt.timedelta(days={"一般": 7, "紧急": 2, "特急": 1}[urgency])
    row = {"order_id": oid, "created_at": iso(created), "channel": channel, "call_id": call_id or "",
           "region_code": region or "", "category": category, "summary": summary, "urgency": urgency, "status": "受理",
           "assigned_unit": _unit(g, town, category), "due_at": iso(due), "closed_at": "",
           "is_repeat": "true" if prev else "false", "repeat_of": prev or "", "satisfaction": "", "updated_at": ""}
    if rng.random() < 0.002:  # the order system lost the region on a few orders
        row["region_code"] = ""
        g.out.damage("orders", oid, "region_code empty")
    _lifecycle(g, row, created, kind, prog)
    g.counts["orders"] += 1
    return oid


def _lifecycle(g, row: dict, created: dt.datetime, kind: str, prog) -> None:
    rng, w = g.rng, g.w
    hard = min(prog, 1.0) if (kind == "escalation" and prog is not None) else 0.0
    p_ret = {"escalation": 0.12 + 0.35 * hard, "resolved_buildup": 0.12, "habitual": 0.3}.get(kind, w.p["p_return"])
    t = created
    snaps = [("受理", t)]
    t = t + dt.timedelta(minutes=rng.randint(10, 1200))
    if rng.random() < 0.35:
        snaps.append(("分派", t))
    t = t + dt.timedelta(hours=rng.uniform(6, 60))
    if rng.random() < 0.3:
        snaps.append(("办理中", t))
    if rng.random() < p_ret:
        t = t + dt.timedelta(hours=rng.uniform(12, 96))
        snaps.append(("退回", t))
        t = t + dt.timedelta(hours=rng.uniform(4, 30))
        snaps.append(("分派", t))
        if kind == "escalation" and rng.random() < hard:
            t = t + dt.timedelta(hours=rng.uniform(24, 96))
            snaps.append(("退回", t))
    days = min(45.0, rng.lognormvariate(1.3, 0.7)) * (0.5 if row["urgency"] != "一般" else 1.0)
    t = max(t, created) + dt.timedelta(days=days, minutes=rng.randint(0, 600))
    snaps.append(("办结", t))
    mean = w.p["satisfaction_mean"] - (2.3 * hard if kind == "escalation" else 0) - (2.5 if kind == "habitual" else 0)
    sat = max(1, min(5, round(rng.gauss(mean, 1.0)))) if rng.random() < 0.75 else None
    key0 = row["created_at"] + row["order_id"]
    base = [row[h] for h in HEADER]  # snapshots are copies of one list: cheaper than dicts, millions of them
    for i, (status, ts) in enumerate(snaps):
        r = base.copy()
        r[_STATUS] = status
        r[_UPDATED] = iso(ts + dt.timedelta(seconds=rng.randint(1, 300)))
        if status == "办结":
            r[_CLOSED] = iso(ts)
            if sat is not None and rng.random() < 0.6:
                r[_SAT] = str(sat)
        _emit(g, r, ts, key0 + f"#{i}")
        if status == "办结" and sat is not None and not r[_SAT]:  # the call-back comes a few days later
            r2 = r.copy()
            r2[_SAT] = str(sat)
            ts2 = ts + dt.timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
            r2[_UPDATED] = iso(ts2)
            _emit(g, r2, ts2, key0 + f"#{i}s")


def _emit(g, row: list, ts: dt.datetime, key: str) -> None:
    lag = 0 if g.rng.random() < 0.96 else 1
    g.out.add("orders", g.day_of(ts) + lag, key, row)
    g.counts["order_snapshots"] += 1
