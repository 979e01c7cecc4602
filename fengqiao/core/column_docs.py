"""What every column of the published silver and gold tables means, and in which unit.

Structured metadata next to :mod:`fengqiao.core.schemas` (silver tables, ``risk_scores``, ``alerts``) and
:mod:`features` (``region_week_features``): ``COLUMN_DOCS[table][column] = (meaning, unit)``, and
``TABLES[table]`` for each table's layer, grain, partitioning and the stage that writes it.
:mod:`fengqiao.app.datadict` renders both, with the column types from the schemas, as
``docs/data-dictionary.md``; a test checks that every schema column is documented here and nothing else.

Units are short and fixed so that analysts can scan them: ``count`` (records in the row's region and
week), ``share 0-1`` (a fraction, not a percentage), ``ratio`` (dimensionless, 1.0 = unchanged),
``yuan`` (人民币元), ``date (Asia/Shanghai)``, ``instant`` (a point in time; see the data dictionary on
how DuckDB shows it), ``code`` (12-digit statistical division code), ``label`` (one of a fixed set of
values), ``text`` (free text, personal data masked), ``pseudonym`` (64 hex characters, keyed HMAC).
"""
from __future__ import annotations

from dataclasses import dataclass

from fengqiao.core.disputes import DISPUTE_TYPES
from fengqiao.core.feature_columns import CHANGE_BASES


@dataclass(frozen=True)
class TableDoc:
    layer: str            # silver / gold
    grain: str            # what one row is
    partitioning: str     # Hive partition column(s) of the folder layout
    written_by: str       # the job (and DAG) that publishes it
    notes: str = ""
    engine: str = "spark"  # spark or pandas (pyarrow): decides how DuckDB reads timestamps


TABLES: dict[str, TableDoc] = {
    "hotline_calls": TableDoc(
        "silver", "one row per call (the newest version of each `call_id`)", "`week_start` (week of `started_at`)",
        "`jobs/silver/hotline_calls.py` (DAG `fengqiao_ingest`, task `build_silver_hotline_calls`)",
        "Calls with an invalid or unknown region code, an unparseable date or a malformed line are in "
        "`quarantine` instead. A call with no region code is placed in the township its address names; if it names none, the line is in `quarantine` (`missing_region_code`)."),
    "work_orders": TableDoc(
        "silver", "one row per work order (the newest snapshot of each `order_id`)",
        "`week_start` (week of `created_at`)",
        "`jobs/silver/work_orders.py` (DAG `fengqiao_ingest`, task `build_silver_work_orders`)",
        "Status updates replace the earlier snapshot: `status` is the order's latest status."),
    "mediation_cases": TableDoc(
        "silver", "one row per mediation case (the newest 更新时间 of each 案件编号)",
        "`week_start` (week of `accepted_date`)",
        "`jobs/silver/mediation_cases.py` (DAG `fengqiao_ingest`, task `build_silver_mediation_cases`)",
        "Column names are English; the registry's Chinese header is given with each column."),
    "quarantine": TableDoc(
        "silver", "one row per rejected record of any feed", "`feed` (`feed=hotline`, `feed=workorders`, "
        "`feed=mediation`)", "each silver job publishes its own `feed=` partition (`jobs/silver/quarantine.py`)",
        "Each feed's partition is replaced on every run of that feed, so it holds the rejects of all landed "
        "files, not only the newest ones."),
    "region_week_features": TableDoc(
        "gold", "one row per region × ISO week at five levels (`level`): every township and county of "
        "`reference/regions.csv` and the city and province above them, every week (zeros without records); "
        "villages only in the weeks whose records name them", "`week_start`",
        "`jobs/gold/region_week_features.py` (Spark, DAG `fengqiao_features`)",
        "Every level counts its own records (not an average of its children), so townships add up to their "
        "county, counties to their city, cities to the province; a village counts only the records that name "
        "it (the rest of its township's records name no village). Weeks run from the "
        "first week with records to the last. The numeric columns are `features.FEATURE_COLUMNS`, the "
        "contract with the models."),
    "risk_scores": TableDoc(
        "gold", "one row per region (township, county, city, province) × week scored by the registered "
        "escalation model (villages are not scored)",
        "`week_start`", "`jobs/gold/risk_scores.py` (DAG `fengqiao_scoring`)",
        "Township scores come from the model; a county's, city's or the province's score is 1 − Π(1 − p) over "
        "its townships, flagged when one of them is (alerts go to townships and counties only). "
        "Flags follow the weekly alert budget (`FENGQIAO_ALERT_BUDGET`, default 2% of townships) with "
        "a small-count guard (≥ 5 contacts) and the model's alert threshold (chosen on held-out calibration "
        "weeks, in the model's metadata; 0.02 for older models): twice it for the model alone, half of it where "
        "the keyword + signals rule alarms, so a quiet week flags fewer; see "
        "`models/levels.py`. `score_h1`, `score_h2`, `score_h4` are the 1-, 2- and 4-week horizons.", engine="pandas"),
    "baseline_scores": TableDoc(
        "gold", "one row per region × week, scored by the EARS C2 count baseline instead of the model",
        "`week_start`", "`jobs/gold/risk_scores.py` (DAG `fengqiao_scoring`)",
        "Same columns and flag rules as `risk_scores`; `score` is the logistic map of the EARS statistic "
        "(0.5 at the alarm threshold), not a probability. For comparison with the model only.", engine="pandas"),
    "alerts": TableDoc(
        "gold", "one row per alert attempt and channel (an e-mail or webhook to one bureau about one flagged "
        "region and week)",
        "`week_start`", "`jobs/outputs/alerts.py` via `fengqiao/delivery/` and `jobs/gold/alert_log.py` "
        "(DAG `fengqiao_alerts`)",
        "`alert_id` is a hash of region, week and recipient: an alert already `sent` is never sent again; "
        "a `failed` one is retried on the next run (a new row).", engine="pandas"),
    "hotspot_patterns": TableDoc(
        "gold", "one row per township × week: its emerging hot-spot category over the 12 weeks ending that week",
        "`week_start`", "`jobs/gold/hotspot_patterns.py` via `models/hotspots.py` (DAG `fengqiao_scoring`)",
        "Getis-Ord Gi* per week on contacts per 10,000 residents over the 5-nearest-township graph (99 "
        "permutations, significant at p ≤ 0.10), Mann-Kendall trend of Gi* z (p ≤ 0.05), ESRI's emerging "
        "hot-spot categories. Descriptive: it shows where clusters form, the risk score is the detector.",
        engine="pandas"),
    "alert_dispositions": TableDoc(
        "gold", "one row per disposition a bureau reported for an alert", "`week_start` (the alert's week)",
        "`jobs/gold/alert_dispositions.py` and the acknowledgement receiver (`jobs/gold/ack_receiver.py`)",
        "Only dispositions signed with the answering bureau's key, for alerts of its county, are stored; once per "
        "(alert_id, disposition, disposed_at). The briefing reports response rates from it; rows with a `key_id` "
        "become training labels.",
        engine="pandas"),
    "feed_health": TableDoc(
        "gold", "one row per feed (hotline, workorders, mediation) × county × ISO week, silent weeks included",
        "`week_start`", "`jobs/gold/feed_health.py` (DAG `fengqiao_features`)",
        "Records are counted by their own date (call started, order created, case accepted), from silver. "
        "A county whose feed collapses (≤ 10% of the median of its previous 8 weeks, that median ≥ 5) while "
        "the feed's other counties report as usual is an `outage`; the next week at ≥ 1.4× is its `catch_up`. "
        "Scores of regions in a county with an outage that week get `data_gap` and a 数据中断 reason.",
        engine="pandas"),
}

SILVER_TABLES = ("hotline_calls", "work_orders", "mediation_cases", "quarantine")
GOLD_TABLES = ("region_week_features", "risk_scores", "baseline_scores", "alerts", "hotspot_patterns",
               "alert_dispositions", "feed_health")

# --- shared wording ----------------------------------------------------------------------------------
_WEEK = ("Monday of the ISO week (Asia/Shanghai) the row belongs to; the partition column",
         "date (Asia/Shanghai)")
_SOURCE_FILE = ("bronze file the record came from, `bronze/<feed>/<day>/<file>`, relative to the lake root", "path")
_REGION_AS_RECORDED = ("region code as recorded (village or township level)", "code")
_TOWNSHIP = ("township of the record: the first 9 digits of `region_code` padded with `000`", "code")
_COUNTY = ("county of the record: the first 6 digits of `region_code` padded with `000000`", "code")
_DISPUTE_TYPE = ("dispute type, one of the 15 mediation types (婚姻家庭, 邻里, … 其他; `fengqiao/core/disputes.py`)",
                 "label")
_UPDATED = ("time of the version kept (the newest wins)", "instant")
_SATISFACTION = ("satisfaction rating given by the person, 1 (worst) to 5; null if none or out of range",
                 "score 1-5")

_TYPE_DOCS = {
    f"type_{slug}": (f"records of type {label} across the three feeds this week", "count")
    for label, slug in DISPUTE_TYPES
}
_CHANGE_DOCS = {
    f"{base}_chg_8w": (f"change of `{base}`: (this week + 1) / (mean of weeks t-8..t-1 + 1); 1.0 in the "
                       "first week", "ratio")
    for base in CHANGE_BASES
}

_SCORE_DOCS: dict[str, tuple[str, str]] = {
    "region_code": ("township, county, city or province code", "code"),
    "level": ("`township`, `county`, `city` or `province`", "label"),
    "week_start": ("Monday of the ISO week scored (Asia/Shanghai); the partition column", "date (Asia/Shanghai)"),
    "score": ("township: calibrated probability that a dispute escalates within 4 weeks; county, city, "
              "province: 1 − Π(1 − p) over its townships", "probability 0-1"),
    "risk_level": ("colour of a flagged region: 红 ≥ 0.50, 橙 ≥ 0.30, 黄 ≥ 0.15, else 蓝 (above a township: its most "
                   "severe township); null when not flagged", "label"),
    "flagged": ("the region is alerted this week (within the alert budget, ≥ 5 contacts, score ≥ twice the model's "
                "alert threshold, or half of it where the keyword + signals rule alarms; 0.02 for baselines and "
                "older models; a county when any of its townships is)",
                "flag"),
    "model_version": ("registered model that scored the row, e.g. `escalation-h4-20260928-d6d97f4b`", "id"),
    "reasons": ("why a flagged region was flagged, in Chinese, strongest first (a county lists its flagged "
                "townships); empty when not flagged", "list of text"),
    "county_code": ("county of the region (a county row: itself)", "code"),
    "region_name": ("name from `reference/regions.csv`", "text"),
    "rank_in_week": ("rank of the score among regions of the same level that week (1 = highest)", "rank"),
    "score_h1": ("township: calibrated probability that a dispute escalates (its episode peaks) within 1 week; "
                 "county: 1 − Π(1 − p) over its townships; null for baselines and single-horizon models",
                 "probability 0-1"),
    "score_h2": ("the same within 2 weeks", "probability 0-1"),
    "score_h4": ("the same within 4 weeks (equal to `score` for the model)", "probability 0-1"),
    "data_gap": ("a feed of the region's county had an outage this week (`feed_health`): the score is kept but "
                 "may be too low, and a 数据中断 reason is added; set by the scoring stage", "flag"),
}

COLUMN_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "hotline_calls": {
        "call_id": ("call identifier from the hotline system", "id"),
        "line": ("line the call came in on: `12348` (legal service) or `12345` (government)", "label"),
        "started_at": ("when the call started", "instant"),
        "duration_sec": ("length of the call", "seconds"),
        "caller_key": ("keyed pseudonym (HMAC-SHA256) of the normalised caller number; the same caller has the "
                       "same key in every table that keys callers, no number in the clear; null when the export "
                       "has no number or a placeholder for a withheld one (匿名, 0, 00000000: not 5 or more digits, "
                       "or one digit repeated)", "pseudonym"),
        "region_code": _REGION_AS_RECORDED,
        "township_code": _TOWNSHIP,
        "county_code": _COUNTY,
        "request_type": ("kind of request: 咨询, 求助, 投诉, 举报, 建议", "label"),
        "topic": ("operator's own words for the subject, personal data masked", "text"),
        "dispute_type": ("dispute type mapped from the topic and transcript by keywords (default 其他); one of "
                         "the 15 mediation types", "label"),
        "is_wage_arrears": ("topic or transcript mentions unpaid wages (欠薪, 农民工工资)", "flag"),
        "transcript_text": ("transcript turns joined as `坐席:…\\n来电人:…`, personal data masked", "text"),
        "has_escalation_terms": ("topic or transcript holds escalation words: threats or collective action "
                                 "(同归于尽, 堵路, 集体上访, …; `fengqiao/core/lexicon.py`)", "flag"),
        "satisfaction": _SATISFACTION,
        "work_order_id": ("work order opened from this call (joins `work_orders.order_id`)", "id"),
        "updated_at": _UPDATED,
        "source_file": _SOURCE_FILE,
        "week_start": ("Monday of the ISO week of `started_at` (Asia/Shanghai); the partition column",
                       "date (Asia/Shanghai)"),
    },
    "work_orders": {
        "order_id": ("work-order identifier", "id"),
        "created_at": ("when the order was opened", "instant"),
        "channel": ("how the request came in: 热线, 网络, 窗口, 移动端", "label"),
        "call_id": ("hotline call the order was opened from (joins `hotline_calls.call_id`)", "id"),
        "region_code": _REGION_AS_RECORDED,
        "township_code": _TOWNSHIP,
        "county_code": _COUNTY,
        "category": ("the order system's own classification `大类/小类`, e.g. `劳动社保/欠薪`", "label"),
        "dispute_type": ("dispute type mapped from `category` (else keywords of category and summary; default "
                         "其他); one of the 15 mediation types", "label"),
        "is_wage_arrears": ("category is a wage-arrears category or the summary mentions 欠薪", "flag"),
        "summary": ("request summary, personal data masked", "text"),
        "has_escalation_terms": ("summary holds escalation words (`fengqiao/core/lexicon.py`)", "flag"),
        "urgency": ("urgency: 一般, 紧急, 特急", "label"),
        "status": ("latest status: 受理, 分派, 办理中, 退回, 办结", "label"),
        "assigned_unit": ("unit the order is assigned to", "text"),
        "due_at": ("deadline for handling the order", "instant"),
        "closed_at": ("when the order was closed; null while open", "instant"),
        "is_repeat": ("marked by the order system as a repeat request of the same person on the same matter",
                      "flag"),
        "repeat_of": ("the earlier order it repeats", "id"),
        "satisfaction": _SATISFACTION,
        "updated_at": _UPDATED,
        "source_file": _SOURCE_FILE,
        "week_start": ("Monday of the ISO week of `created_at` (Asia/Shanghai); the partition column",
                       "date (Asia/Shanghai)"),
    },
    "mediation_cases": {
        "case_id": ("案件编号, case number in the mediation registry", "id"),
        "dispute_type": ("纠纷类型, one of the 15 mediation types as registered", "label"),
        "case_source": ("纠纷来源: 主动排查, 当事人申请, 热线转办, 法院委派, 公安移交, 信访转办, 其他", "label"),
        "region_code": ("行政区划代码, region code as recorded (village or township level)", "code"),
        "township_code": _TOWNSHIP,
        "county_code": _COUNTY,
        "accepted_date": ("受理日期, date the case was accepted", "date (Asia/Shanghai)"),
        "occurred_date": ("发生日期, date the dispute arose; null if not given", "date (Asia/Shanghai)"),
        "party_count": ("当事人数, number of parties", "persons"),
        "amount_yuan": ("涉案金额, amount in dispute (`1.2万` read as 12000); null if not given", "yuan"),
        "involves_migrant_workers": ("涉及农民工, migrant workers involved; null if left empty (a 劳动争议 case "
                                     "with this flag counts as 欠薪 in the features)", "flag"),
        "criminal_tendency": ("民转刑倾向, risk of the civil dispute turning criminal; null if left empty", "flag"),
        "group_tendency": ("群体性倾向, risk of a group incident; null if left empty", "flag"),
        "mediation_org": ("调解组织, the mediation committee handling the case", "text"),
        "mediator_key": ("keyed pseudonym of 调解员 (the mediator)", "pseudonym"),
        "result": ("调解结果: 调解成功, 调解不成功, 调解中, 终止", "label"),
        "status": ("案件状态: 已受理, 调解中, 已结案, 已回访", "label"),
        "summary": ("纠纷简介, case summary, personal data masked", "text"),
        "has_escalation_terms": ("纠纷简介 holds escalation words (`fengqiao/core/lexicon.py`)", "flag"),
        "party_key": ("keyed pseudonym of the first party's phone (or name if no phone), for repeat counts",
                      "pseudonym"),
        "updated_at": ("更新时间, time of the version kept (the newest wins)", "instant"),
        "source_file": _SOURCE_FILE,
        "week_start": ("Monday of the ISO week of `accepted_date`; the partition column", "date (Asia/Shanghai)"),
    },
    "quarantine": {
        "feed": ("feed the record came from: `hotline`, `workorders`, `mediation`; the partition column", "label"),
        "source_file": _SOURCE_FILE,
        "line_no": ("1-based line where the record starts in its source file (JSON lines, CSV: the header is "
                    "line 1; .xlsx: the sheet row); null where there is no line (a whole unreadable file)", "line"),
        "reason": ("`code | readable text`, e.g. `invalid_region_code | region code is not 12 digits`; the code "
                   "is `split_part(reason, ' | ', 1)`", "label + text"),
        "raw_masked": ("the raw record as delivered, personal data masked", "text"),
        "quarantined_at": ("when the silver job rejected it", "instant"),
    },
    "region_week_features": {
        "region_code": ("village, township, county, city or province code (12 digits)", "code"),
        "level": ("`village`, `township`, `county`, `city` or `province`", "label"),
        "county_code": ("county of the region (a county row: itself; a city or province row: its own code "
                        "cut to 6 digits and zero-padded, which is no county's)", "code"),
        "week_start": _WEEK,
        "region_name": ("name from `reference/regions.csv`; not a model feature", "text"),
        "hotline_calls": ("hotline calls placed in the region this week", "count"),
        "work_orders": ("work orders created in the region this week", "count"),
        "mediation_cases": ("mediation cases accepted in the region this week", "count"),
        "total_contacts": ("hotline_calls + work_orders + mediation_cases", "count"),
        **_TYPE_DOCS,
        "wage_arrears": ("records flagged 欠薪 across the feeds (calls and orders by keywords or category, "
                         "mediation: 劳动争议 with 涉及农民工)", "count"),
        "complaint_share": ("share of calls that are 投诉 (0 when no calls)", "share 0-1"),
        "repeat_caller_share": ("share of calls whose caller was heard in the same region in weeks t-4..t-1 or "
                                "called more than once this week (0 when no calls)", "share 0-1"),
        "repeat_order_share": ("share of orders marked `is_repeat` (0 when no orders)", "share 0-1"),
        "returned_orders": ("orders created this week whose latest status is 退回", "count"),
        "urgent_order_share": ("share of orders 紧急 or 特急 (0 when no orders)", "share 0-1"),
        "mediation_party_mean": ("mean 当事人数 of the week's cases (0 when no cases)", "persons"),
        "mediation_party_max": ("largest 当事人数 of the week's cases (0 when no cases)", "persons"),
        "large_group_cases": ("cases with 5 or more parties", "count"),
        "failed_mediations": ("cases whose result is 调解不成功", "count"),
        "failed_mediation_share": ("failed / cases with a final result (调解成功, 调解不成功, 终止); 0 when none",
                                   "share 0-1"),
        "criminal_tendency_cases": ("cases flagged 民转刑倾向", "count"),
        "group_tendency_cases": ("cases flagged 群体性倾向", "count"),
        "escalation_term_records": ("records across the feeds whose text holds escalation words", "count"),
        "escalation_term_share": ("escalation_term_records / total_contacts (0 when no contacts)", "share 0-1"),
        "court_referral_cases": ("mediation cases whose 纠纷来源 is 法院委派 (sent by a court)", "count"),
        "police_referral_cases": ("mediation cases whose 纠纷来源 is 公安移交 (handed over by the police)", "count"),
        "petition_referral_cases": ("mediation cases whose 纠纷来源 is 信访转办 (passed on by the petition office)",
                                    "count"),
        "hotline_referral_cases": ("mediation cases whose 纠纷来源 is 热线转办 (passed on by the hotline)", "count"),
        "referral_cases": ("court + police + petition referrals", "count"),
        "line_12345_calls": ("calls on the 12345 government line (the rest came in on 12348)", "count"),
        "referral_share": ("referral_cases / mediation_cases (0 when no cases)", "share 0-1"),
        "line_12345_share": ("line_12345_calls / hotline_calls (0 when no calls)", "share 0-1"),
        **_CHANGE_DOCS,
        "total_contacts_z_8w": ("(total_contacts − mean of weeks t-8..t-1) / (sd of those weeks + 1); 0.0 in the "
                                "first week", "z-score"),
        "max_type_chg_8w": ("largest 8-week change ratio over the 15 `type_*` counts (same formula as `*_chg_8w`)",
                            "ratio"),
        "nb_total_contacts_chg_8w": ("mean `total_contacts_chg_8w` of the region's nearest regions of the same "
                                     "level (5 for townships, 4 for counties, 3 for cities, by distance between "
                                     "seats; villages and the province: their own value)", "ratio"),
        "nb_max_type_chg_8w": ("mean `max_type_chg_8w` of the region's nearest regions of the same level", "ratio"),
        "nb_escalation_term_share": ("mean `escalation_term_share` of the region's nearest regions of the same "
                                     "level", "share 0-1"),
        "nb_referral_cases_chg_8w": ("mean `referral_cases_chg_8w` of the region's nearest regions of the same "
                                     "level", "ratio"),
        "nb_line_12345_share": ("mean `line_12345_share` of the region's nearest regions of the same level",
                                "share 0-1"),
        "week_of_year": ("ISO week number of `week_start`", "week 1-53"),
        "weeks_to_spring_festival": ("whole weeks until the next Spring Festival (0 in its week); wage arrears "
                                     "peak before it", "weeks"),
    },
    "risk_scores": dict(_SCORE_DOCS),
    "baseline_scores": {
        **_SCORE_DOCS,
        "score": ("logistic map of the EARS C2 statistic on total_contacts (0.5 at the alarm threshold); a county: "
                  "1 − Π(1 − s) over its townships. Not a probability", "score 0-1"),
        "model_version": ("baseline that scored the row, e.g. `ears-c2`", "id"),
        "reasons": ("for a flagged region, the EARS statistic against its threshold, then feature reasons; empty "
                    "when not flagged", "list of text"),
    },
    "alerts": {
        "alert_id": ("hash of region, week and recipient, shown as `XXXX-XXXX-XXXX-XXXX-XXXX`: the key that "
                     "keeps a re-run from sending twice (the reference bureaus quote is `ack_ref`)", "id"),
        "region_code": ("the flagged township or county", "code"),
        "week_start": ("week the region was flagged for (Monday, Asia/Shanghai); the partition column",
                       "date (Asia/Shanghai)"),
        "risk_level": ("colour of the flag: 红, 橙, 黄, 蓝", "label"),
        "recipient_unit": ("司法所 (township justice office) or 司法局 (county justice bureau) addressed, from "
                           "`reference/bureaus.csv`; `（未配置接收单位）` when none is configured", "text"),
        "channel": ("`email` (or `webhook`)", "label"),
        "sent_at": ("time of the attempt", "instant"),
        "status": ("`sent` or `failed`", "label"),
        "recipient_address": ("e-mail address used; null when bureaus.csv has none", "text"),
        "detail": ("why an attempt failed (SMTP error, no address); null when sent", "text"),
        "ack_ref": ("random acknowledgement reference (回复确认编号) given to the bureau, the same on every attempt "
                    "and channel of the alert; null in rows recorded before references existed", "id"),
    },
    "hotspot_patterns": {
        "region_code": ("the township", "code"),
        "level": ("always `township`", "label"),
        "county_code": ("county of the township", "code"),
        "region_name": ("township name from `reference/regions.csv`", "text"),
        "week_start": ("last week of the 12-week window (Monday, Asia/Shanghai); the partition column",
                       "date (Asia/Shanghai)"),
        "category": ("emerging hot-spot category: new_, consecutive_, intensifying_, persistent_, diminishing_, "
                     "sporadic_, oscillating_, historical_ hot_spot or cold_spot, or no_pattern", "label"),
        "category_zh": ("the category in Chinese (新增热点, 连续热点, 加剧热点, … 无明显模式)", "label"),
        "gi_z_last": ("Gi* z-score of the window's last week (positive = cluster of high values)", "z-score"),
        "gi_p_last": ("permutation p-value of that Gi* (99 permutations)", "p-value"),
        "trend_tau": ("Mann-Kendall tau of the township's Gi* z over the window (−1 to 1)", "tau"),
        "trend_p": ("p-value of the Mann-Kendall trend", "p-value"),
        "hot_weeks": ("weeks of the window in which the township was a significant hot spot", "count"),
        "cold_weeks": ("weeks of the window in which it was a significant cold spot", "count"),
        "window_weeks": ("length of the window", "weeks"),
        "value": ("what Gi* was computed on, e.g. `rate` (contacts per 10,000 residents)", "label"),
    },
    "alert_dispositions": {
        "alert_id": ("the alert answered (gold/alerts `alert_id`; the bureau quoted its `ack_ref`)", "id"),
        "region_code": ("the alerted township or county", "code"),
        "week_start": ("week of the alert (Monday, Asia/Shanghai); the partition column", "date (Asia/Shanghai)"),
        "recipient_unit": ("司法所 or 司法局 that received the alert", "text"),
        "disposition": ("`confirmed`, `dismissed` or `handled`", "label"),
        "disposition_zh": ("the same in Chinese: 已核实, 已排除, 已处置", "label"),
        "disposed_at": ("when the bureau says it disposed of the alert", "instant"),
        "received_via": ("`file` (CSV drop) or `webhook` (signed POST)", "label"),
        "note_masked": ("the bureau's note with personal data masked", "text"),
        "received_at": ("when Fengqiao stored the disposition", "instant"),
        "key_id": ("id of the bureau key that signed the disposition; null for rows stored before dispositions "
                   "were signed (never used as training labels)", "id"),
    },
    "feed_health": {
        "feed": ("`hotline`, `workorders` or `mediation`", "label"),
        "feed_zh": ("the feed in Chinese: 热线, 工单, 人民调解", "label"),
        "county_code": ("the county (every county of `reference/regions.csv`)", "code"),
        "county_name": ("county name from `reference/regions.csv`", "text"),
        "week_start": ("Monday of the ISO week (Asia/Shanghai); the partition column", "date (Asia/Shanghai)"),
        "records": ("records of the feed dated in the county and week", "count"),
        "days_with_data": ("days of the week with at least one record", "days 0-7"),
        "last_data_date": ("latest day with a record up to the week's end (freshness); null before the first",
                           "date (Asia/Shanghai)"),
        "days_since_data": ("days from `last_data_date` to the week's end (or the last day of data)", "days"),
        "baseline_median": ("median weekly `records` of the previous 8 weeks of the same feed and county; null "
                            "with fewer than 3 weeks of history", "count"),
        "ratio": ("`records` / `baseline_median` (a partial last week: over its elapsed share of the median)",
                  "ratio"),
        "others_ratio": ("median `ratio` of the feed's other counties that week (are the others reporting?)",
                         "ratio"),
        "status": ("`ok`, `outage`, `catch_up`, `low` (< 0.5), `high` (≥ 2), `feed_down` (every county "
                   "collapsed), `no_history`", "label"),
        "status_zh": ("the status in Chinese: 正常, 中断, 补报, 偏低, 偏高, 全市中断, 历史不足", "label"),
        "is_outage": ("status is `outage`", "flag"),
        "is_catch_up": ("status is `catch_up`", "flag"),
        "week_complete": ("the week has ended within the data (false for the current, partial week)", "flag"),
    },
}
