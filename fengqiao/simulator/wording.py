"""A varied world's wording: ``VariedText`` speaks with the same calls as ``text.py`` in other words.

Per seed it keeps a random subset of every phrase bank (``text.py``'s own plus ``phrases.py``'s) and
draws how often callers paraphrase, add fillers, speak dialect or are mistyped, how often escalation
cues are only implied, and how often harmless calls use a cue word. The feeds call
``topic / transcript / order_summary / mediation_brief`` and read ``MEDIA_TOPICS`` on either this or
the ``text`` module itself (today's world), so the two are interchangeable.
"""
from __future__ import annotations

import random

from . import phrases as ph
from . import text as tx


class VariedText:
    def __init__(self, seed: int, var):
        self.var = var
        r = random.Random(f"vary-text-{seed}")  # a stream of its own: the bank choice is part of the world
        self.kept: dict[str, list[str]] = {}

        def keep(name: str, items, least: int = 1) -> tuple:
            items = list(dict.fromkeys(items))
            share = min(1.0, max(0.3, var.bank_keep + r.uniform(-0.15, 0.15)))
            chosen = tuple(r.sample(items, max(min(least, len(items)), round(len(items) * share))))
            self.kept[name] = list(chosen)
            return chosen

        labour = tx.TYPE_TEXT["劳动争议"]["say"]
        wage_say = labour[:2] + labour[4:]  # the wage-arrears lines of text.caller_says
        self.topics = {t: keep(f"topic/{t}", v["topic"]) for t, v in tx.TYPE_TEXT.items()}
        self.says = {t: keep(f"say/{t}", (v["say"] if t != "劳动争议" else labour[2:4]) + ph.EXTRA_SAY[t], 2)
                     for t, v in tx.TYPE_TEXT.items()}
        self.briefs = {t: keep(f"brief/{t}", v["brief"]) for t, v in tx.TYPE_TEXT.items()}
        self.wage_say = keep("wage_say", wage_say + ph.EXTRA_WAGE_SAY, 2)
        self.wage_topics = keep("wage_topics", ("欠薪", "拖欠工资", "农民工工资", "讨薪", "工资没发") + ph.EXTRA_WAGE_TOPICS, 2)
        self.vague = keep("vague", tx.VAGUE_TOPICS + ph.EXTRA_VAGUE, 2)
        self.MEDIA_TOPICS = {t: keep(f"media/{t}", v) for t, v in {**tx.MEDIA_TOPICS, **ph.MEDIA_TOPICS_MORE}.items()}
        self.media_ask = keep("media_ask", ph.MEDIA_ASK)
        self.greetings, self.intros = keep("greetings", ph.GREETINGS), keep("intros", ph.INTROS)
        self.place_ask, self.closings = keep("place_ask", ph.PLACE_ASK), keep("closings", ph.CLOSINGS)
        self.advice = keep("advice", tx.ADVICE + ph.MORE_ADVICE, 2)
        self.threat = keep("threat", tx.THREAT_SAY + ph.MORE_THREAT, 3)
        self.collective = keep("collective", tx.COLLECTIVE_SAY + ph.MORE_COLLECTIVE, 3)
        self.implied_threat = keep("implied_threat", ph.IMPLIED_THREAT, 2)
        self.implied_collective = keep("implied_collective", ph.IMPLIED_COLLECTIVE, 2)
        self.stray_say, self.stray_note = keep("stray_say", ph.STRAY_SAY), keep("stray_note", ph.STRAY_NOTE)
        self.subst = {k: keep(f"subst/{k}", v) for k, v in ph.SUBST.items()}
        self.fill_before = keep("filler_before", ph.FILLER_BEFORE)
        self.fill_after = keep("filler_after", ph.FILLER_AFTER)
        self.dialect = keep("dialect", ph.DIALECT)
        self.typos = keep("typos", ph.TYPOS, 3)
        self.order_forms, self.anon = keep("order_forms", ph.ORDER_FORMS), keep("anon", ph.ANON)
        self.order_phone, self.order_esc = keep("order_phone", ph.ORDER_PHONE), keep("order_esc", ph.ORDER_ESC)
        self.order_end = keep("order_end", ph.ORDER_END, 2)
        self.brief_before, self.brief_after = keep("brief_before", ph.BRIEF_BEFORE), keep("brief_after", ph.BRIEF_AFTER)
        self.brief_esc = keep("brief_esc", ph.BRIEF_ESC)
        # Types whose cues turn collective: today's, and some that can gather a crowd too.
        self.collective_types = set(tx.COLLECTIVE_TYPES) | {t for t in ph.MAYBE_COLLECTIVE if r.random() < 0.35}
        self.kept["collective_types"] = sorted(self.collective_types)

    # --- how a line is said ---------------------------------------------------------------------
    def voice(self, r: random.Random, s: str, spoken: bool = True) -> str:
        """Paraphrase, then (spoken lines only) dialect and fillers, then perhaps a slip."""
        v = self.var
        if r.random() < v.paraphrase:
            for old, new in self.subst.items():
                if old in s and r.random() < 0.6:
                    s = s.replace(old, r.choice(new), 1)
        if spoken and r.random() < v.dialect:
            for old, new in self.dialect:
                if old in s and r.random() < 0.7:
                    s = s.replace(old, new)
        if spoken and r.random() < v.filler:
            s = (r.choice(self.fill_before) if r.random() < 0.6 else "") + s + (
                r.choice(self.fill_after) if r.random() < 0.5 else "")
        return self.slip(r, s)

    def slip(self, r: random.Random, s: str) -> str:
        if r.random() < self.var.typo:
            hits = [(old, new) for old, new in self.typos if old in s]
            if hits:
                old, new = r.choice(hits)
                s = s.replace(old, new, 1)
        return s

    def cue(self, r: random.Random, dtype: str) -> str:
        """An escalation cue: threat or collective, said outright or only implied."""
        collective = dtype in self.collective_types and r.random() < self.var.collective_share
        implied = r.random() < self.var.implied_share
        bank = (self.implied_collective if collective else self.implied_threat) if implied else \
            (self.collective if collective else self.threat)
        return r.choice(bank)

    # --- the four texts the feeds ask for ---------------------------------------------------------
    def topic(self, r: random.Random, dtype: str, wage: bool) -> str | None:
        if r.random() < self.var.vague_topic:
            return r.choice(self.vague)
        word = r.choice(self.wage_topics if wage else self.topics[dtype])
        if r.random() < self.var.paraphrase * 0.5:  # operators write the same topic in several forms
            word = r.choice(ph.TOPIC_FORMS).format(word)
        return self.slip(r, word)

    def transcript(self, r: random.Random, dtype: str, wage: bool, place: str, name: str | None, pii: dict,
                   escalate: bool, short: bool = False, media_topic: str | None = None) -> list[dict]:
        """3-8 turns, built as ``text.transcript`` builds them, in this world's words."""
        line = r.choice(self.greetings)
        intro = r.choice(self.intros).format(name) if name and r.random() < 0.5 else "你好，"
        if media_topic:
            turns = [("坐席", line), ("来电人", intro + r.choice(self.media_ask).format(media_topic)),
                     ("坐席", r.choice(self.advice))]
            return [{"speaker": s, "text": t} for s, t in turns]
        said = self.voice(r, r.choice(self.wage_say if wage else self.says[dtype]))
        if not escalate and r.random() < self.var.stray_cue:
            said += "，" + r.choice(self.stray_say)
        turns = [("坐席", line), ("来电人", intro + said + "。")]
        extra = [("坐席", r.choice(self.place_ask)),
                 ("来电人", f"在{pii['address']}。" if "address" in pii else f"在{place}。")]
        if "id" in pii:
            extra.append(("来电人", f"我身份证号是{pii['id']}。"))
        if "card" in pii:
            extra.append(("来电人", f"钱就打到我这个卡上，卡号{pii['card']}。"))
        threat = [("来电人", self.voice(r, self.cue(r, dtype)) + r.choice(("！", "。", "！！")))] if escalate else []
        extra += threat
        extra.append(("坐席", r.choice(self.advice)))
        if "phone" in pii:
            extra.append(("来电人", f"好的，我电话是{pii['phone']}，有消息给我打电话。"))
        extra.append(("坐席", r.choice(self.closings)))
        return tx.finish_transcript(r, turns, extra, threat, short)

    def order_summary(self, r: random.Random, dtype: str, wage: bool, place: str, name: str | None,
                      phone_txt: str | None, escalate: bool, dtype_for_esc: str) -> str:
        who = f"来电人{name}" if name else r.choice(self.anon)
        what = self.voice(r, r.choice(self.wage_say if wage else self.says[dtype]), spoken=False)
        s = r.choice(self.order_forms).format(who=who, place=place, what=what)
        if phone_txt and r.random() < 0.4:
            s += r.choice(self.order_phone).format(phone_txt)
        if escalate:
            s += r.choice(self.order_esc).format(self.cue(r, dtype_for_esc))
        elif r.random() < self.var.stray_cue:
            s += r.choice(self.stray_note)
        return s + r.choice(self.order_end)

    def mediation_brief(self, r: random.Random, dtype: str, wage: bool, place: str, names: list[str],
                        escalate: bool, id_txt: str | None) -> str:
        b = tx.TYPE_TEXT["劳动争议"]["brief"][0] if wage else r.choice(self.briefs[dtype])
        b = r.choice(self.brief_before) + self.voice(r, b, spoken=False) + r.choice(self.brief_after)
        s = f"{place}{names[0]}等" + (f"{len(names)}人" if len(names) > 1 else "") + f"：{b}。"
        if id_txt:
            s += f"申请人身份证号{id_txt}。"
        if escalate:
            s += r.choice(self.brief_esc).format(self.cue(r, dtype))
        return s

    def summary(self) -> dict:
        """What this world kept of each bank (for ``truth/variation.json``)."""
        return self.kept
