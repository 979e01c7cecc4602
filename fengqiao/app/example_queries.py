"""Analysts' questions with their DuckDB SQL over the lake's views (``fengqiao query``, ``fengqiao shell``).

Each entry is ``{"title_zh", "title_en", "sql"}`` (and an optional ``note``, and ``role`` when the
question needs more than the province analyst's gold tables). "This week" is the latest ``week_start``
of the table queried. ``docs/example-questions.md`` is generated from this list:

    python -m fengqiao.app.example_queries > docs/example-questions.md

Tests run every query against a tiny lake as its role (and against the demo lake when it exists) and
check that the committed document equals the generated one.
"""
from __future__ import annotations

import sys

EXAMPLE_QUERIES: list[dict[str, str]] = [
    {
        "title_zh": "本周风险评分最高的10个乡镇及预警理由",
        "title_en": "Top 10 townships by risk score this week, with their reasons",
        "sql": """\
with latest as (select max(week_start) as week_start from risk_scores)
select r.rank_in_week,
       c.region_name as county,
       r.region_name as township,
       r.region_code,
       round(r.score, 3) as score,
       r.risk_level,
       r.flagged,
       array_to_string(r.reasons, '；') as reasons
from risk_scores r
join latest using (week_start)
left join region_week_features c
       on c.region_code = r.county_code and c.level = 'county' and c.week_start = r.week_start
where r.level = 'township'
order by r.score desc, r.region_code
limit 10;""",
        "note": "Reasons are filled for flagged regions only; `rank_in_week` ranks all townships of the week.",
    },
    {
        "title_zh": "近四周欠薪类记录比前四周翻番的乡镇",
        "title_en": "Townships whose wage-arrears (欠薪) records doubled in the last four weeks",
        "sql": """\
with latest as (select max(week_start) as last_week from region_week_features),
windows as (
    select f.region_code, f.region_name, f.county_code,
           sum(f.wage_arrears) filter (where f.week_start > l.last_week - interval 4 week) as last_4w,
           sum(f.wage_arrears) filter (where f.week_start <= l.last_week - interval 4 week) as previous_4w
    from region_week_features f, latest l
    where f.level = 'township'
      and f.week_start > l.last_week - interval 8 week
    group by all
)
select region_code, region_name, county_code, previous_4w, last_4w,
       round(last_4w / nullif(previous_4w, 0), 1) as times
from windows
where last_4w >= 2 * previous_4w
  and last_4w >= 3           -- ignore 0 -> 1 -> 2 noise
order by last_4w - previous_4w desc, region_code;""",
        "note": "`wage_arrears` counts 欠薪 records of all three feeds (calls, orders, 劳动争议 cases "
                "involving migrant workers).",
    },
    {
        "title_zh": "本周各市风险排名及预警乡镇数（全省版口径）",
        "title_en": "Cities ranked this week, with their flagged townships (the province edition's table)",
        "sql": """\
with latest as (select max(week_start) as week_start from risk_scores),
towns as (
    select substr(region_code, 1, 4) || '00000000' as city_code,
           count(*) filter (where flagged) as flagged_townships,
           string_agg(region_name, '、' order by score desc) filter (where flagged) as flagged_names
    from risk_scores join latest using (week_start)
    where level = 'township'
    group by all
)
select c.region_code as city_code, f.region_name as city, f.total_contacts, round(c.score, 3) as score,
       coalesce(t.flagged_townships, 0) as flagged_townships, t.flagged_names
from risk_scores c
join latest using (week_start)
left join region_week_features f
       on f.region_code = c.region_code and f.level = 'city' and f.week_start = c.week_start
left join towns t on t.city_code = c.region_code
where c.level = 'city'
order by flagged_townships desc, c.score desc, city_code;""",
        "note": "A city's score is 1 − Π(1 − p) over its townships, so it is near 1 for any large city: rank "
                "by flagged townships first. `level` in both tables: village, township, county, city, province.",
    },
    {
        "title_zh": "信访转办、公安移交、法院委派案件近四周明显增加的乡镇",
        "title_en": "Townships where cases passed on by petition offices, police or courts rose in the last four weeks",
        "sql": """\
with latest as (select max(week_start) as last_week from region_week_features),
windows as (
    select f.region_code, f.region_name, f.county_code,
           sum(f.referral_cases) filter (where f.week_start > l.last_week - interval 4 week) as last_4w,
           sum(f.referral_cases) filter (where f.week_start <= l.last_week - interval 4 week) as previous_4w,
           sum(f.petition_referral_cases) filter (where f.week_start > l.last_week - interval 4 week) as petition_4w,
           sum(f.police_referral_cases) filter (where f.week_start > l.last_week - interval 4 week) as police_4w,
           sum(f.court_referral_cases) filter (where f.week_start > l.last_week - interval 4 week) as court_4w
    from region_week_features f, latest l
    where f.level = 'township'
      and f.week_start > l.last_week - interval 8 week
    group by all
)
select region_code, region_name, county_code, previous_4w, last_4w, petition_4w, police_4w, court_4w
from windows
where last_4w >= previous_4w + 3
order by last_4w - previous_4w desc, region_code;""",
        "note": "`referral_cases` = 法院委派 + 公安移交 + 信访转办 (the mediation registry's 纠纷来源); a dispute "
                "passed on by them has already gone one step up.",
    },
    {
        "title_zh": "今年被预警周数最多的区县",
        "title_en": "Counties with the most flagged weeks this year",
        "sql": """\
with latest as (select max(week_start) as last_week from risk_scores)
select r.region_code as county_code,
       any_value(r.region_name) as county,
       count(*) filter (where r.flagged) as flagged_weeks,
       count(*) filter (where r.risk_level in ('红', '橙')) as red_or_orange_weeks,
       count(*) as weeks_scored,
       max(r.week_start) filter (where r.flagged) as last_flagged_week
from risk_scores r, latest l
where r.level = 'county'
  and year(r.week_start) = year(l.last_week)
group by r.region_code
order by flagged_weeks desc, red_or_orange_weeks desc, county_code;""",
        "note": "A county is flagged in a week when any of its townships is.",
    },
    {
        "title_zh": "各区县每月热线来电中含过激言辞的比例",
        "title_en": "Share of hotline calls with escalation words, by county and month",
        "sql": """\
with names as (
    select distinct region_code, region_name from region_week_features where level = 'county'
)
select date_trunc('month', h.started_at)::date as month,   -- Beijing time (the session time zone)
       h.county_code,
       n.region_name as county,
       count(*) as calls,
       count(*) filter (where h.has_escalation_terms) as with_escalation_words,
       round(avg(h.has_escalation_terms::int), 4) as share
from hotline_calls h
left join names n on n.region_code = h.county_code
group by all
order by month, h.county_code;""",
        "note": "Months are cut in Beijing time: fengqiao query sets DuckDB's time zone to Asia/Shanghai.",
        "role": "steward",
    },
    {
        "title_zh": "按数据源和原因统计的隔离记录",
        "title_en": "Quarantined records by feed and reason",
        "sql": """\
select feed,
       split_part(reason, ' | ', 1) as reason_code,
       any_value(split_part(reason, ' | ', 2)) as explanation,
       count(*) as records,
       count(distinct source_file) as files,
       max(quarantined_at) as last_quarantined_utc
from quarantine
group by all
order by feed, records desc;""",
        "role": "steward",
    },
    {
        "title_zh": "某区县近8周重复来电比例走势（以历下区为例）",
        "title_en": "Repeat-caller share trend for one county over the last 8 weeks (历下区 as the example)",
        "sql": """\
with params as (select '370102000000' as county_code),
latest as (select max(week_start) as last_week from region_week_features)
select f.week_start,
       f.region_name as county,
       f.hotline_calls,
       round(f.repeat_caller_share, 3) as repeat_caller_share,
       round(f.repeat_caller_share * f.hotline_calls) as repeat_calls
from region_week_features f, params p, latest l
where f.level = 'county'
  and f.region_code = p.county_code
  and f.week_start > l.last_week - interval 8 week
order by f.week_start;""",
        "note": "Change `county_code` in `params`. A repeat call comes from a caller heard in the same county "
                "in the previous 4 weeks or more than once this week.",
    },
    {
        "title_zh": "各司法局、司法所收到的预警数",
        "title_en": "Alerts sent per bureau (司法局 / 司法所)",
        "sql": """\
select recipient_unit,
       count(distinct alert_id) filter (where status = 'sent') as alerts_sent,
       count(*) filter (where status = 'failed') as failed_attempts,
       count(distinct alert_id) filter (where status = 'sent' and risk_level in ('红', '橙')) as red_or_orange,
       min(week_start) as first_week,
       max(week_start) as last_week
from alerts
group by recipient_unit
order by alerts_sent desc, recipient_unit;""",
        "note": "`（未配置接收单位）` collects alerts of regions with no bureau in `reference/bureaus.csv`.",
    },
    {
        "title_zh": "本周被预警乡镇的主要指标（为什么被预警）",
        "title_en": "Flagged townships this week with the indicators behind the flag",
        "sql": """\
with latest as (select max(week_start) as week_start from risk_scores)
select r.region_name as township,
       r.risk_level,
       round(r.score, 3) as score,
       f.total_contacts,
       round(f.total_contacts_chg_8w, 2) as contacts_vs_8w,
       round(f.max_type_chg_8w, 2) as sharpest_type_rise,
       f.wage_arrears,
       round(f.escalation_term_share, 3) as escalation_share,
       f.failed_mediations,
       f.group_tendency_cases
from risk_scores r
join latest using (week_start)
join region_week_features f
  on f.region_code = r.region_code and f.level = r.level and f.week_start = r.week_start
where r.level = 'township' and r.flagged
order by r.score desc;""",
        "note": "Ratios (`*_chg_8w`) are (this week + 1) / (mean of the 8 weeks before + 1): 2.0 means doubled.",
    },
    {
        "title_zh": "今年各类型人民调解案件的调解不成功率与涉案金额",
        "title_en": "Mediation this year by dispute type: failure rate and amounts in dispute",
        "sql": """\
with latest as (select max(week_start) as last_week from mediation_cases)
select m.dispute_type,
       count(*) as cases,
       round(count(*) filter (where m.result = '调解不成功')
             / nullif(count(*) filter (where m.result in ('调解成功', '调解不成功', '终止')), 0), 3)
           as failed_share,
       round(median(m.amount_yuan)) as median_amount_yuan,
       round(sum(m.amount_yuan) / 10000, 1) as total_amount_10k_yuan,
       count(*) filter (where m.group_tendency) as group_tendency_cases
from mediation_cases m, latest l
where year(m.accepted_date) = year(l.last_week)
group by m.dispute_type
order by cases desc;""",
        "note": "The failure rate counts only cases with a final result (成功, 不成功, 终止), as the features do.",
        "role": "steward",
    },
    {
        "title_zh": "本周模型预警与EARS基线预警的对比",
        "title_en": "This week's flags: escalation model versus the EARS baseline",
        "sql": """\
with latest as (select max(week_start) as week_start from risk_scores)
select coalesce(m.region_code, b.region_code) as region_code,
       coalesce(m.region_name, b.region_name) as township,
       coalesce(m.flagged, false) as model_flagged,
       coalesce(b.flagged, false) as baseline_flagged,
       round(m.score, 3) as model_score,
       round(b.score, 3) as baseline_score
from (select r.* from risk_scores r join latest using (week_start) where r.level = 'township') m
full join (select s.* from baseline_scores s join latest using (week_start) where s.level = 'township') b
  on b.region_code = m.region_code
where m.flagged or b.flagged
order by model_flagged desc, model_score desc;""",
        "note": "The baseline's score is a logistic map of the EARS C2 statistic, not a probability.",
    },
]


ROLES_SECTION = [
    "## Roles: who reads what",
    "",
    "`fengqiao query` and `fengqiao shell` open the lake as one role, chosen with `--role` (and `--county`):",
    "",
    "| role | option | tables |",
    "|---|---|---|",
    "| province analyst (default) | `--role province` | every gold table, every region |",
    "| county analyst | `--role county --county 370102` (`--county` alone implies it) | the county's rows of every "
    "gold table with a region code (`county_code`, else `region_code`) |",
    "| data steward | `--role steward` | gold and silver (masked); the quarantine without `raw_masked` |",
    "",
    "The default is the province analyst: an analyst of the provincial justice department compares counties and",
    "townships, and needs the scores, alerts, features and feed health of the whole province, but no single",
    "call, work order or mediation case; record-level silver is for the steward who checks data quality.",
    "A county analyst's county is a 6-digit code of a county in the lake's `reference/regions.csv`; its tables",
    "hold only that county's rows (aggregates of neighbours, such as `nb_*` features or `others_ratio`, stay",
    "as published).",
    "",
    "No role reaches bronze (raw files), the quarantine's `raw_masked` (a malformed line is masked by patterns",
    "only and may keep a name), the model registry, reference files, outputs, the process environment or any",
    "other file. `read_parquet`, `read_csv`, `read_text`, `glob`, `COPY … TO`, `ATTACH` of a file, `INSTALL`,",
    "`LOAD` and `SET` of any setting fail with `not allowed for the <role>: <DuckDB's reason>`; a table outside",
    "the role `does not exist`. Roles limit what a session reads; they are not a login. Whoever can read the",
    "lake folder can pick any role, or read its files with other tools: give county analysts no access to the",
    "lake and run Fengqiao for them under an account that has it, with the role fixed (a sudo rule, a service).",
    "",
]


def build_example_questions() -> str:
    """Markdown of every example: Chinese and English title, note, SQL."""
    lines = [
        "# Example questions",
        "",
        "<!-- Generated by `python -m fengqiao.app.example_queries > docs/example-questions.md` from",
        "     fengqiao/app/example_queries.py. Do not edit by hand: a test compares this file with the generator. -->",
        "",
        "Questions analysts ask of the lake, with DuckDB SQL over its views. Run one with",
        "",
        "```bash",
        "fengqiao query \"$(cat question.sql)\" --lake var/demo/lake",
        "```",
        "",
        "or paste it into `fengqiao shell --lake var/demo/lake` (statements end with `;`).",
        "Columns and units: [data-dictionary.md](data-dictionary.md). \"This week\" is the latest `week_start`",
        "in the lake. Every query here is run by the test suite, as the role it names (else the province analyst).",
        "",
        *ROLES_SECTION,
    ]
    for i, q in enumerate(EXAMPLE_QUERIES, start=1):
        lines += [f"## {i}. {q['title_zh']}", "", f"*{q['title_en']}*", ""]
        if q.get("role"):
            lines += [f"Needs `--role {q['role']}` (silver tables).", ""]
        if q.get("note"):
            lines += [q["note"], ""]
        lines += ["```sql", q["sql"].rstrip(), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:  # pragma: no cover
    sys.stdout.buffer.write(build_example_questions().encode("utf-8"))
    sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    main()
