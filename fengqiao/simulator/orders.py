"""Work orders: one order per request, tracked 受理 -> 分派 -> 办理中 -> (退回) -> 办结, one snapshot per change."""
from __future__ import annotations

from fengqiao.core.disputes import CATEGORY_TO_TYPE, TYPE_LABELS

from . import people

DAY = 86400
ORDER_MARKS_REPEAT = 0.9  # the order system links most, not all, repeat requests (today's Variation value)
TYPE_CATEGORIES: dict[str, list[str]] = {}
for _cat, _t in CATEGORY_TO_TYPE.items():
    TYPE_CATEGORIES.setdefault(_t, []).append(_cat)
UNKNOWN_CATEGORIES = ("其他/咨询转办", "综合/多部门协调", "民生服务/其他诉求")
ORDER_HEADER = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency",
                "status", "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction", "updated_at"]
TYPE_DEPT = {"劳动争议": "人社局", "物业": "住建局", "消费": "市场监管局", "征地拆迁": "自然资源局", "山林土地": "自然资源局",
             "环境污染": "生态环境分局", "医疗": "卫健局", "道路交通事故": "交警大队", "房屋宅基地": "住建局"}


class OrderRecords:
    """Mixed into ``FeedBuilder``: one order and all its status snapshots."""

    def order(self, r, created: int, ti: int, ki: int, u: float, call: dict | None) -> str:
        g, counts = self.geo, self.counts
        day = created // DAY
        dtype = TYPE_LABELS[ki]
        if call is None:
            surge, lev, ep = self.episode_state(ti, ki, day, u)
            wage = self.wage(r, ki, day, ep if surge else -1)
            # web, window and app requests: an aggrieved party or a recent caller may file one too
            person = self.who(r, "orders", ti, ki, day, ep if surge else -1, lev)
            if person is not None:
                name, number = person[0], person[1]
                person[2] = max(person[2], day)
            else:
                name, number = (people.person_name(r) if r.random() < 0.6 else None), None
            escalate = r.random() < self.cue_p(surge, ep, lev)
            region = self.region(r, ti, 0.25, "workorders", day)
            channel = r.choice(("网络", "网络", "窗口", "移动端", "移动端"))
            call_id = ""
        else:
            surge, lev, ep, wage, person = call["surge"], call["lev"], call["ep"], call["wage"], call["person"]
            name, number, escalate = call["name"], call["number"], call["escalate"]
            region = call["region"] or g.t_code[ti]  # the dispatcher resolves the place
            channel, call_id = "热线", call["call_id"]
        self.order_seq[day] = self.order_seq.get(day, 0) + 1
        oid = f"GD{self.daycompact[day]}{self.order_seq[day]:06d}"
        var = self.var
        if r.random() < var.unknown_category:
            category = r.choice(UNKNOWN_CATEGORIES)
        elif wage:
            category = "劳动社保/欠薪"
        elif dtype == "劳动争议":
            category = r.choice(("劳动社保/劳动合同", "劳动社保/工伤"))
        else:
            category = r.choice(TYPE_CATEGORIES[dtype])
        place = g.county_names[g.t_county[ti]] + g.t_name[ti]
        summary = self.words.order_summary(r, dtype, wage, place, name, number, escalate, dtype)
        planted = self.forms.sentence("workorders", g.t_code[ti][:6], g.t_code[ti][:4])
        if planted:
            summary += planted
        self.pii.add("name", name)
        x = r.random()
        urgency = ("特急" if x < 0.05 + 0.25 * lev else "紧急" if x < 0.2 + 0.4 * lev else "一般") if surge else \
            ("特急" if x < 0.01 else "紧急" if x < 0.08 else "一般")
        # is_repeat/repeat_of: the same person's earlier order on the same matter, when the system links it
        # (calls of a month are drawn before the web orders, so look up the person's orders by time)
        prev = None
        if person is not None:
            earlier = [o for o in person[3] or () if o[0] < created]
            prev = max(earlier)[1] if earlier else None
            person[3] = (person[3] or []) + [(created, oid)]
        repeat = bool(prev) and r.random() < var.order_marks_repeat
        due = created + {"特急": 2, "紧急": 5, "一般": 15}[urgency] * DAY
        bad_created = self.dirt.want("unparseable_date", day, "workorders")
        created_txt = "2025-02-30T10:00:00+08:00" if bad_created else self.iso(created)
        if bad_created:
            self.dirt.note("unparseable_date", "workorders", self.daystr[day], oid)
        dept = TYPE_DEPT.get(dtype)
        units = [g.t_name[ti] + "司法所"] + ([g.county_names[g.t_county[ti]] + dept] if dept else [])
        row = [oid, created_txt, channel, call_id, region, category, summary, urgency, "受理", "", self.iso(due), "",
               "true" if repeat else "false", prev if repeat else "", "", self.iso(created)]
        versions = [(created, list(row))]
        ts = created + r.randint(1800, 20 * 3600)
        row[8], row[9] = "分派", r.choice(units)
        versions.append((ts, list(row)))
        ts += r.randint(1800, 3 * DAY)
        row[8] = "办理中"
        versions.append((ts, list(row)))
        if r.random() < ((0.08 + 0.35 * lev) if surge else var.return_rate):
            ts += r.randint(DAY, 4 * DAY)
            row[8] = "退回"
            versions.append((ts, list(row)))
            ts += r.randint(3600, 2 * DAY)
            row[8], row[9] = "办理中", r.choice(units)
            versions.append((ts, list(row)))
        ts += r.randint(DAY, 15 * DAY)
        row[8], row[11] = "办结", self.iso(ts)
        sat = var.order_sat_surge if surge else var.sat_normal  # drawn only when filled in
        row[14] = str(r.choice(sat)) if r.random() < var.order_sat_filled else ""
        versions.append((ts, list(row)))
        for vts, vrow in versions:
            vrow[15] = self.iso(vts)
            self.emit("workorders", vts, ti, vrow, r)
        counts["orders"] += 1
        counts["order_versions"] += len(versions)
        return oid

