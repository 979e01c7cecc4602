"""Transcripts: the turns of one call, for each kind of call (ordinary, episode, habitual, media wave).

Returns the turns and a neutral one-line gist that the operator's work order summary is built from.
"""
from __future__ import annotations

import random

from . import phrasing as ph
from .escalation_talk import (AFTERMATH, HABITUAL, MATTER, MEDIA, MISFIRE_ANY, MISFIRES, RESOLVED, STAGE_EARLY,
                              STAGE_LATE_CROWD, STAGE_LATE_PERSONAL, STAGE_MID_CROWD, STAGE_MID_PERSONAL)
from .situations import BANK


_EPISODE_ADVICE = ("我们会把情况转给属地司法所，请他们尽快组织调解。", "您反映的问题我们已经登记，会督促相关部门尽快答复。",
                   "建议您通过合法途径反映诉求，我们这边马上转办。", "这个事情我们会报给属地镇街，请他们上门了解情况。")


def ordinary(rng: random.Random, sp: ph.Speech, line: str, dtype: str, ctx: dict, place_ans: str, person,
             misfire: bool, pd: bool, crowd_cue: bool = False) -> tuple[list, str]:
    bank = BANK[dtype]
    sit = rng.choice(bank["situations"])
    opening = ph.fill(rng.choice(sit["say"]), ctx)
    detail = ph.fill(rng.choice(sit["detail"]), ctx)
    ask = ph.fill(rng.choice(sit["ask"]), ctx)
    turns = [("坐席", ph.operator_greeting(rng, line))]
    if rng.random() < 0.3:  # some callers say it all in one breath
        turns.append(("来电人", sp.say(opening + "，" + detail)))
    else:
        turns.append(("来电人", sp.say(opening)))
        if rng.random() < 0.55:
            turns += [("坐席", rng.choice(ph.ASK_PLACE)), ("来电人", sp.say(place_ans))]
        turns += [("坐席", rng.choice(ph.ASK_MORE)), ("来电人", sp.say(detail))]
    if crowd_cue:  # the pre-festival wage wave: crowds and deadlines in perfectly ordinary calls
        turns.append(("来电人", sp.say(rng.choice(("跟我一起做事的十几个老乡都冇拿到", "过年前拿不到钱，大家是不会罢休的",
                                                      "好多人都在等这个钱回家过年")))))
    if rng.random() < 0.1:  # ordinary callers also complain about being passed around
        turns.append(("来电人", sp.say(rng.choice(STAGE_EARLY))))
    if misfire:
        own = MISFIRES.get(dtype)
        if own and rng.random() < 0.8:
            words = rng.choice(own)
        else:
            words = rng.choice(("还有个事，", "另外问一下，", "顺便问一句，")) + rng.choice(MISFIRE_ANY)
        turns.insert(rng.randint(2, len(turns)), ("来电人", sp.say(words)))
        if rng.random() < 0.3:  # the operator reacts to the alarming words
            turns.append(("坐席", rng.choice(ph.CALM)))
    if rng.random() < 0.6:
        turns.append(("来电人", sp.say(ask)))
    if pd:
        q, a = ph.personal_bits(rng, person, bool(bank.get("wage")))
        turns += [("坐席", q), ("来电人", sp.say(a))]
    advice = _EPISODE_ADVICE if rng.random() < 0.12 else (sit["advice"] or bank["advice"].split("|"))
    turns.append(("坐席", rng.choice(advice)))
    turns.append(("来电人", sp.say(rng.choice(ph.CLOSE_CALLER))))
    if rng.random() < 0.7:
        turns.append(("坐席", rng.choice(ph.CLOSE_OP)))
    return turns, opening + ("，" + ask if rng.random() < 0.5 else "")


def episode(rng: random.Random, sp: ph.Speech, line: str, dtype: str, ctx: dict, place_ans: str, person, *,
            prog: float, loud: str, crowd: bool, repeat: bool, resolved: bool, pd: bool) -> tuple[list, str, int]:
    """A call about an episode's matter. Returns turns, gist, and the cue level used (0 none .. 3 explicit)."""
    statement = ph.fill(rng.choice(MATTER[dtype][1]), ctx)
    turns = [("坐席", ph.operator_greeting(rng, line))]
    first = statement
    if repeat and rng.random() < 0.7:
        first = rng.choice(("我上个礼拜就打过了，", "又是我，", "我之前反映过的，", f"这是我第{ctx['times']}次打了，", "还是那个事，")) + first
    turns.append(("来电人", sp.say(first)))
    if rng.random() < 0.5:
        turns += [("坐席", rng.choice(ph.ASK_PLACE)), ("来电人", sp.say(place_ans))]
    turns += [("坐席", rng.choice(ph.ASK_MORE)), ("来电人", sp.say(rng.choice(STAGE_EARLY)))]
    p_cue = {"subtle": 0.3, "normal": 0.6, "loud": 0.85}[loud]
    level = 0
    if prog > 1.0:  # after the incident
        turns.append(("来电人", sp.say(rng.choice(AFTERMATH))))
        if rng.random() < 0.5:
            turns.append(("来电人", sp.say(ph.fill(rng.choice(MATTER[dtype][2]), ctx))))
        level = 1
    elif resolved and prog >= 0.8 and rng.random() < 0.5:
        turns.append(("来电人", sp.say(rng.choice(RESOLVED))))
    elif rng.random() < p_cue * min(1.0, 0.3 + prog):
        if prog < 0.35 or (resolved and prog < 0.6):
            level = 1
        elif prog < 0.8 or loud != "loud" or resolved:
            level = 2
            turns.append(("来电人", sp.say(rng.choice(STAGE_MID_CROWD if crowd else STAGE_MID_PERSONAL))))
        else:
            level = 3
            turns.append(("来电人", sp.say(rng.choice(STAGE_LATE_CROWD if crowd else STAGE_LATE_PERSONAL))))
            if rng.random() < 0.4:
                turns.append(("来电人", sp.say(rng.choice(STAGE_MID_CROWD if crowd else STAGE_MID_PERSONAL))))
    if level >= 2 or (prog > 1.0 and rng.random() < 0.5):
        turns.append(("坐席", rng.choice(ph.CALM)))
    if pd:
        q, a = ph.personal_bits(rng, person, dtype == "劳动争议")
        turns += [("坐席", q), ("来电人", sp.say(a))]
    advice = _EPISODE_ADVICE if rng.random() < 0.6 else BANK[dtype]["situations"][0]["advice"]
    turns.append(("坐席", rng.choice(advice)))
    turns.append(("来电人", sp.say(rng.choice(ph.CLOSE_ANGRY if prog > 0.4 and not resolved else ph.CLOSE_CALLER))))
    return turns, statement, level


def habitual(rng: random.Random, sp: ph.Speech, line: str, dtype: str, person, bad_day: bool) -> tuple[list, str]:
    said, angry = HABITUAL[dtype]
    turns = [("坐席", ph.operator_greeting(rng, line)), ("来电人", sp.say(rng.choice(said)))]
    if rng.random() < 0.5:
        turns += [("坐席", "您反映的情况我们已经转给相关部门了。"), ("来电人", sp.say(rng.choice(ph.CLOSE_ANGRY)))]
    if bad_day:
        turns.append(("来电人", sp.say(rng.choice(angry))))
    turns.append(("坐席", rng.choice(("好的，我再帮您催一下。", "您的情况我们记录了。", "好的，会再次转办。"))))
    return turns, said[0]


def media(rng: random.Random, sp: ph.Speech, line: str, dtype: str) -> tuple[list, str]:
    stories, questions = MEDIA[dtype]
    story, q = rng.choice(stories), rng.choice(questions)
    lead = rng.choice(("我看到", "我刚刚刷到", "听别人讲", "")) + story
    turns = [("坐席", ph.operator_greeting(rng, line)), ("来电人", sp.say(lead)), ("坐席", "嗯，您想咨询什么？"),
             ("来电人", sp.say(q)), ("坐席", rng.choice(BANK[dtype]["advice"].split("|"))),
             ("来电人", sp.say(rng.choice(ph.CLOSE_CALLER)))]
    return turns, q
