"""The columns of gold/region_week_features (one row per region × ISO week): the contract of the feature table.

Every name in FEATURE_COLUMNS is a numeric column of the published table, read by models/ and the
briefing; keys: ``region_code, level, county_code, week_start``. The Spark transforms that compute them
are in ``features/`` (which re-exports these lists); the table's types are
:data:`fengqiao.core.schemas.REGION_WEEK_FEATURES`. Plain lists, no Spark: models import them too.
"""
from __future__ import annotations

from fengqiao.core.disputes import DISPUTE_TYPES

KEY_COLUMNS = ["region_code", "level", "county_code", "week_start"]

TYPE_COUNT_COLUMNS = [f"type_{slug}" for _, slug in DISPUTE_TYPES]

COUNT_COLUMNS = [
    "hotline_calls",            # calls placed in the region this week
    "work_orders",              # orders created this week
    "mediation_cases",          # mediation cases accepted this week
    "total_contacts",           # sum of the three
    *TYPE_COUNT_COLUMNS,        # records of each of the 15 types across the three feeds
    "wage_arrears",             # records flagged 欠薪 across the feeds
]

SIGNAL_COLUMNS = [
    "complaint_share",          # share of calls that are 投诉
    "repeat_caller_share",      # share of calls from a caller already heard in this region in the past 4 weeks or this week
    "repeat_order_share",       # share of orders marked is_repeat
    "returned_orders",          # orders whose newest status is 退回
    "urgent_order_share",       # share of orders 紧急 or 特急
    "mediation_party_mean",     # mean 当事人数 of the week's cases
    "mediation_party_max",
    "large_group_cases",        # cases with 5 or more parties
    "failed_mediations",        # cases whose result is 调解不成功
    "failed_mediation_share",   # failed / cases with a result (成功, 不成功, 终止)
    "criminal_tendency_cases",  # cases flagged 民转刑倾向
    "group_tendency_cases",     # cases flagged 群体性倾向
    "escalation_term_records",  # records across feeds whose text has escalation words
    "escalation_term_share",    # the same as a share of total_contacts
]

# Referral signals (features.referrals): what courts, police and petition offices pass on, and the line called.
REFERRAL_COUNT_COLUMNS = [
    "court_referral_cases",     # mediation cases whose 纠纷来源 is 法院委派
    "police_referral_cases",    # ... 公安移交
    "petition_referral_cases",  # ... 信访转办
    "hotline_referral_cases",   # ... 热线转办
    "referral_cases",           # 法院委派 + 公安移交 + 信访转办
    "line_12345_calls",         # calls on the 12345 government line (the rest came in on 12348)
]
REFERRAL_COLUMNS = [
    *REFERRAL_COUNT_COLUMNS,
    "referral_share",           # referral_cases / mediation_cases
    "line_12345_share",         # line_12345_calls / hotline_calls
]

CHANGE_BASES = [
    "total_contacts", "hotline_calls", "work_orders", "mediation_cases",
    "wage_arrears", "escalation_term_records", "failed_mediations",
    "referral_cases", "petition_referral_cases", "line_12345_calls",
]
DYNAMIC_COLUMNS = [
    *[f"{base}_chg_8w" for base in CHANGE_BASES],  # (x_t + 1) / (mean of x over weeks t-8..t-1 + 1)
    "total_contacts_z_8w",      # (x_t - mean_8) / (sd_8 + 1) over weeks t-8..t-1
    "max_type_chg_8w",          # largest type_<slug> change over the 15 types
]

SPATIAL_COLUMNS = [
    "nb_total_contacts_chg_8w",   # mean over the region's neighbours (same level)
    "nb_max_type_chg_8w",
    "nb_escalation_term_share",
    "nb_referral_cases_chg_8w",
    "nb_line_12345_share",
]

SEASON_COLUMNS = [
    "week_of_year",               # ISO week number
    "weeks_to_spring_festival",   # weeks until the next Spring Festival (0-54)
]

FEATURE_COLUMNS = (COUNT_COLUMNS + SIGNAL_COLUMNS + REFERRAL_COLUMNS + DYNAMIC_COLUMNS + SPATIAL_COLUMNS
                   + SEASON_COLUMNS)
