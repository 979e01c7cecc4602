"""Hotline calls (12348/12345): one JSON object per call, its transcript, and the order it may open."""
from __future__ import annotations

import json

from fengqiao.core.disputes import TYPE_LABELS

from . import people

DAY = 86400
_encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for all records (json.dumps builds one per call)
_encode_ascii = json.JSONEncoder().encode  # an exporter that escapes every non-ASCII character


class HotlineRecords:
    """Mixed into ``FeedBuilder``: builds call records from drawn (day, township, type) arrays."""

    def hotline(self, r, d, t, k, media, ts, ep_u, habit=None) -> None:
        """``habit``: per call, the index of a varied world's habitual complainant making it, else -1."""
        g, pii, counts, var, words = self.geo, self.pii, self.counts, self.var, self.words
        c1, c2, c3, c4 = var.rtype_cum
        for i in range(len(d)):
            day, ti, ki, start = int(d[i]), int(t[i]), int(k[i]), int(ts[i])
            is_media = bool(media[i])
            h = -1 if habit is None else int(habit[i])
            dtype = TYPE_LABELS[ki]
            surge, lev, ep = (False, 0.0, -1) if is_media or h >= 0 else self.episode_state(ti, ki, day, ep_u[i])
            wage = self.wage(r, ki, day, ep if surge else -1)
            city4 = g.t_code[ti][:4]
            if h >= 0:
                person = self.habit_people[h]
            else:
                person = None if is_media else self.who(r, "hotline", ti, ki, day, ep if surge else -1, lev)
            if person is not None:
                name, number = person[0], self.restyle(r, person[1])
                person[2] = day
            else:
                name = people.person_name(r) if r.random() < 0.7 else None
                number = people.phone(r, city4)
                person = self.remember(ti, ki, name, number, day)
            pii.add("name", name), pii.add("phone", number)
            x = r.random()
            if is_media:
                rtype = "咨询"
            elif h >= 0:  # the habitual complainant complains and reports
                rtype = "投诉" if x < 0.55 else "举报" if x < 0.75 else "求助" if x < 0.9 else "咨询"
            elif surge:
                rtype = "投诉" if x < 0.25 + 0.4 * lev else "求助" if x < 0.5 + 0.3 * lev else "举报" if x < 0.6 + 0.3 * lev else "咨询"
            else:
                rtype = "咨询" if x < c1 else "求助" if x < c2 else "投诉" if x < c3 else "举报" if x < c4 else "建议"
            county_name = g.county_names[g.t_county[ti]]
            vname = r.choice(g.t_villages[ti])[1]
            if r.random() < 0.05:
                region = None
                address = f"{county_name}{g.t_name[ti]}{vname}" + r.choice(("", "附近", "一带"))
                counts["calls_without_region"] += 1
            else:
                region = self.region(r, ti, 0.15, "hotline", day)
                y = r.random()
                address = people.street_address(r, county_name) if y < 0.3 else f"{g.t_name[ti]}{vname}" if y < 0.7 else None
                if y < 0.3:
                    pii.add("address", address)
            pdata = {}
            short = is_media or r.random() < 0.2  # a short call mentions no numbers
            if short:
                pass
            elif r.random() < 0.25:
                pdata["phone"] = people.phone(r, city4)
                pii.add("phone", pdata["phone"])
            if not short and r.random() < 0.08:
                pdata["id"] = people.id_number(r, g.t_code[ti][:6])
                pii.add("id_number", pdata["id"])
            if not short and r.random() < 0.04:
                pdata["card"] = people.bank_card(r)
                pii.add("bank_card", pdata["card"])
            if not short and r.random() < 0.15:
                pdata["address"] = people.street_address(r, county_name)
                pii.add("address", pdata["address"])
            cue = self.plan.habituals[h]["cue"] if h >= 0 else self.cue_p(surge, ep, lev)
            escalate = (not is_media) and r.random() < cue
            media_topic = r.choice(words.MEDIA_TOPICS[dtype]) if is_media else None
            if is_media:
                topic = media_topic
            else:
                topic = words.topic(r, dtype, wage)
            turns = words.transcript(r, dtype, wage, f"{county_name}{g.t_name[ti]}{vname}", name, pdata, escalate,
                                  short=short, media_topic=media_topic)
            planted = None if is_media else self.forms.sentence("hotline", g.t_code[ti][:6], city4)
            if planted:  # said before the goodbye
                turns.insert(max(1, len(turns) - 1), {"speaker": "来电人", "text": planted})
            encode = _encode_ascii if planted and self.forms.escaped() else _encode
            duration = int(r.uniform(40, 150)) if is_media else int(r.lognormvariate(5.3, 0.5))
            if self.dirt.want("unparseable_date", day, "hotline"):
                started = self.daystr[day][:8] + "32T25:61:00+08:00"
                self.dirt.note("unparseable_date", "hotline", self.daystr[day], started)
            else:
                started = self.iso(start)
            sat = None if r.random() < var.sat_missing else r.choice(var.sat_surge if surge or h >= 0 else var.sat_normal)
            self.call_seq[day] = self.call_seq.get(day, 0) + 1
            call_id = f"RX{self.daycompact[day]}{self.call_seq[day]:07d}"
            order_id = None
            if rtype != "咨询" and not is_media:
                wk = min(day // 7, self.plan.n_weeks - 1)
                p_open = min(0.95, var.p_open * float(self.plan.ord_county[g.t_county[ti], wk]))
                if r.random() < p_open:
                    order_id = self.order(r, start + duration + r.randint(120, 3600), ti, ki, ep_u[i], dict(
                        call_id=call_id, name=name, number=number, person=person, surge=surge, lev=lev, ep=ep,
                        wage=wage, region=region, escalate=escalate))
            updated = start + duration + r.randint(30, 600)
            rec = {"call_id": call_id, "line": self.call_line(r.random(), ti, ki, day), "started_at": started,
                   "duration_sec": duration, "caller_number": number, "caller_name": name, "region_code": region,
                   "address_text": address, "request_type": rtype, "topic": topic, "transcript": turns,
                   "satisfaction": sat, "work_order_id": order_id, "updated_at": self.iso(updated)}
            self.emit("hotline", updated, ti, encode(rec), r)
            counts["hotline_calls"] += 1
            counts["hotline_versions"] += 1
            if r.random() < 0.01:  # a correction: the call-back satisfaction filled in a day or two later
                rec["satisfaction"] = r.randint(1, 5)
                rec["updated_at"] = self.iso(updated + r.randint(DAY // 2, 2 * DAY))
                self.emit("hotline", updated + DAY, ti, encode(rec), r)
                counts["hotline_versions"] += 1

