"""The 12348/12345 hotline feed: one JSON object per call, as the contract's hotline table says.

A call is made for a township, a dispute type and a kind (ordinary, episode, habitual, media). It may open a
work order (orders.from_call) and, rarely, be transferred to mediation (热线转办). Some calls are exported a
day or more late, and some are exported again later with a correction (a region filled in, an order linked,
a topic changed) under a later updated_at.
"""
from __future__ import annotations

import datetime as dt
import json

from . import calltalk, mediation, orders, people
from . import phrasing as ph
from .situations import BANK, TYPES
from .timefmt import iso
from .world import REQUEST_TYPES

_TYPE_INDEX = {t: i for i, t in enumerate(TYPES)}


def _request(rng, g, dtype: str, prog: float | None, kind: str) -> str:
    if kind == "habitual":
        return rng.choices(REQUEST_TYPES, (0.05, 0.1, 0.75, 0.08, 0.02))[0]
    if kind == "media":
        return rng.choices(REQUEST_TYPES, (0.85, 0.05, 0.04, 0.02, 0.04))[0]
    if prog is None:
        i = _TYPE_INDEX[dtype]
        return rng.choices(REQUEST_TYPES, g.req_mix[i])[0]
    if prog > 1.0:
        return rng.choices(REQUEST_TYPES, (0.3, 0.3, 0.3, 0.07, 0.03))[0]
    return rng.choices(REQUEST_TYPES, (max(0.05, 0.55 - 0.5 * prog), 0.25, 0.12 + 0.55 * prog, 0.05, 0.02))[0]


def _satisfaction(rng, mean: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, 1.0))))


def _address(rng, g, town, village, with_name: bool) -> str | None:
    county = g.county[town.county].name
    vname = village.name if village else ""
    if not with_name:
        return rng.choice((None, "不清楚", "来电人未提供", f"{vname}那边" if vname else "外地"))
    k = rng.randrange(3)
    if town.kind == "街道":
        est = ph.place_morpheme(rng) + rng.choice(("小区", "花园", "苑", "新村"))
        if k == 0:  # a full street address: personal data
            unit = f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 28)}0{rng.randint(1, 4)}"
            return f"{county}{town.name}{vname}{est}{unit}"
        return f"{town.name}{vname}附近" if k == 1 else f"{town.name}{est}"
    if k == 0:
        return f"{county}{town.name}{vname}{rng.randint(1, 15)}组"
    return f"{town.name}{vname}" if k == 1 else f"{town.name}{vname}{rng.randint(1, 60)}号"


def call(g, day: int, town, dtype: str, *, kind: str = "base", ep=None, prog: float | None = None,
         person=None, repeat: bool = False, line: str | None = None, extra_level: float = 0.0) -> dict | None:
    rng, w = g.rng, g.w
    p = w.p
    day2 = g.outage_day("hotline", town.county, day)
    if day2 is None or day2 >= w.days:
        return None
    t0 = g.moment(day2, rng.randint(8, 17) if day2 != day else None)
    if line is None:
        line = g.ref.line(town, day, ep)
    if person is None:
        back = g.returning(town.code, dtype, day) if rng.random() < p["repeat_share"] else None
        person, repeat = (back[0], True) if back else (people.person(rng), False)
    villages = w.geo.villages_of.get(town.code) or [None]
    village = rng.choice(villages)
    sp = ph.Speech(rng, p["dialect"], p["slip"], p["raw_asr"])
    req = _request(rng, g, dtype, prog, kind)
    pd = rng.random() < p["pd_in_text"]
    place_ans = ph.address_answer(rng, g.county[town.county].name, town.name, village.name if village else None)
    level, sat_mean = 0, p["satisfaction_mean"]
    if kind in ("escalation", "resolved_buildup"):
        ctx = ph.context(rng, dtype, BANK[dtype]["amount"], town.name, thing=ep.thing, n=ep.n_people)
        turns, gist, level = calltalk.episode(rng, sp, line, dtype, ctx, place_ans, person, prog=prog, loud=ep.loud,
                                              crowd=ep.crowd, repeat=repeat, resolved=kind == "resolved_buildup", pd=pd)
        sat_mean = (p["satisfaction_mean"] - 2.2 * min(prog, 1.0)) if kind == "escalation" else p["satisfaction_mean"] - 1.0
    elif kind == "habitual":
        turns, gist = calltalk.habitual(rng, sp, line, dtype, person, rng.random() < 0.2)
        sat_mean = 1.3
    elif kind == "media":
        turns, gist = calltalk.media(rng, sp, line, dtype)
    else:
        ctx = ph.context(rng, dtype, BANK[dtype]["amount"], town.name)
        crowd_cue = rng.random() < extra_level
        turns, gist = calltalk.ordinary(rng, sp, line, dtype, ctx, place_ans, person, rng.random() < p["misfire"], pd,
                                        crowd_cue)
    planted = g.forms.words("hotline", person) if kind != "media" else None
    if planted:  # said before the goodbye; not through the caller's Speech, which draws from the world's stream
        turns.insert(max(1, len(turns) - 1), ("来电人", planted + "。"))
    dump = _dump_ascii if planted and g.forms.ascii_export() else _dump
    chars = sum(len(t) for _, t in turns)
    # the transcript is what the ASR kept of the talk; the call itself also has hold time and silences
    duration = int(rng.lognormvariate(4.9, 0.55) + chars / rng.uniform(2.5, 4.5))
    name_r = rng.random()
    caller_name = person.name if name_r < 0.3 else (person.polite if name_r < 0.65 else None)
    region = town.code
    if village is not None and rng.random() < p["village_code_share"]:
        region = village.code
    null_region = rng.random() < p["null_region"]
    address = _address(rng, g, town, village, True) if rng.random() < 0.55 else None
    if null_region:
        region = None
        placeable = rng.random() < 0.9
        address = _address(rng, g, town, village, placeable)
        if not placeable:
            g.out.damage("hotline", f"{line}-{w.daystr(day2)}-{g.n_call + 1:07d}",
                         "region_code null, address names no township")
    topic = None if rng.random() < 0.06 else rng.choice(BANK[dtype]["topics"])
    if ep is not None and kind not in ("media", "habitual") and rng.random() < 0.35:
        topic = ep.thing + rng.choice(("", "纠纷", "问题", "反映", "投诉", "矛盾"))
    sat = _satisfaction(rng, sat_mean) if rng.random() < p["ivr_rate"] else None
    g.n_call += 1
    call_id = f"{line}-{w.daystr(day2)}-{g.n_call:07d}"
    end = t0 + dt.timedelta(seconds=duration)
    rec = {"call_id": call_id, "line": line, "started_at": iso(t0), "duration_sec": duration,
           "caller_number": person.phone, "caller_name": caller_name, "region_code": region, "address_text": address,
           "request_type": req, "topic": topic, "transcript": [{"speaker": s, "text": x} for s, x in turns],
           "satisfaction": sat, "work_order_id": None, "updated_at": None}
    # Does the call open a work order? Episode calls do more often, as the matter hardens.
    p_ord = p["p_order"][req]
    if kind == "escalation":
        p_ord = min(0.97, p_ord + 0.25 + 0.3 * min(prog, 1.0))
    elif kind == "habitual":
        p_ord = 0.85
    matter = f"{town.code}|{dtype}|{ep.eid if ep is not None else ''}"
    order_id = None
    if rng.random() < p_ord:
        # the dispatcher always places an order (it must go to a unit), even when the call record has no region
        order_id = orders.from_call(g, end + dt.timedelta(minutes=rng.randint(1, 40)), town, town.code, dtype, call_id,
                                    person, gist, req, kind=kind, prog=prog, level=level, matter=matter)
    rec["work_order_id"] = order_id
    late_link = order_id is not None and rng.random() < 0.04  # the order is linked only in a later export
    if late_link:
        rec["work_order_id"] = None
    upd = end + dt.timedelta(seconds=rng.randint(20, 1800))
    rec["updated_at"] = iso(upd)
    lag = 0 if rng.random() < 0.9 else (1 if rng.random() < 0.8 else rng.randint(2, 4))
    g.out.add("hotline", g.day_of(upd) + lag, rec["started_at"] + call_id, dump(rec))
    delivered = g.day_of(upd) + lag < w.days
    g.counts["hotline"] += 1
    if late_link or (rng.random() < 0.025):
        rec2 = dict(rec)
        rec2["work_order_id"] = order_id
        if rec2["region_code"] is None and rng.random() < 0.6:
            rec2["region_code"] = town.code
        elif not late_link:
            rec2["topic"] = rng.choice(BANK[dtype]["topics"])
        upd2 = upd + dt.timedelta(days=rng.randint(1, 6), seconds=rng.randint(0, 20000))
        rec2["updated_at"] = iso(upd2)
        g.out.add("hotline", g.day_of(upd2), rec2["started_at"] + call_id + "~", dump(rec2))
        delivered = delivered or g.day_of(upd2) < w.days
    if planted and not delivered:
        g.forms.forget_last()  # every export of the call falls after the drop's last day
    g.remember(town.code, dtype, person, day, order_id)
    transfer = p["hotline_to_med"][town.county] * (2.5 if kind != "base" else 1.0)  # per county: referrals.py
    if order_id and kind in ("base", "escalation", "resolved_buildup") and rng.random() < transfer:
        mediation.case(g, min(w.days - 1, g.day_of(end) + rng.randint(1, 9)), town, dtype, "热线转办",
                       lead=person, order_ref=order_id, ep=ep, prog=prog)
    return {"call_id": call_id, "order_id": order_id, "person": person, "day": day2}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _dump(rec: dict) -> str:
    # one encoder for the run: json.dumps with options builds a new encoder on every call
    return _ENCODER.encode(rec)


def _dump_ascii(rec: dict) -> str:
    """As an exporter that writes ASCII-only JSON (every Chinese character a \\uXXXX escape) would."""
    return _ASCII_ENCODER.encode(rec)
