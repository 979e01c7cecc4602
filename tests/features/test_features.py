"""Feature job on tiny hand-made silver frames (schemas from fengqiao.core.schemas)."""
from __future__ import annotations

import datetime as dt
import math
import statistics

import pandas as pd
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from features import CHANGE_BASES, FEATURE_COLUMNS, KEY_COLUMNS, TYPE_COUNT_COLUMNS
from features.counts import weekly_counts
from features.dynamics import add_dynamics, add_sparse_dynamics
from features.grid import tag_levels
from features.records import union_records
from features.referrals import derive_referral_shares, referral_aggregations
from features.season import season_rows
from features.signals import derive_signals, repeat_calls, signal_aggregations
from features.spatial import haversine_km, neighbour_edges, spatial_lag
from fengqiao.core.schemas import HOTLINE_CALLS, MEDIATION_CASES, WORK_ORDERS
from jobs.gold.region_week_features import build_region_week_features

W0 = dt.date(2025, 3, 3)  # a Monday


def week(k: int) -> dt.date:
    return W0 + dt.timedelta(weeks=k)


C1, C2 = "370102000000", "370103000000"
T1, T2, T3, T4 = "370102001000", "370102002000", "370102100000", "370103001000"

REGIONS = pd.DataFrame(
    [
        (C1, "历下区", "county", "370100000000", 36.68, 117.07, None),
        (T1, "解放路街道", "township", C1, 36.67, 117.03, 50000),
        (T2, "千佛山街道", "township", C1, 36.64, 117.04, 40000),
        (T3, "某镇", "township", C1, 36.60, 117.20, 30000),
        (C2, "市中区", "county", "370100000000", 36.65, 116.99, None),
        (T4, "大观园街道", "township", C2, 36.66, 116.98, 45000),
        ("370102001001", "某村", "village", T1, 36.67, 117.03, 900),  # villages get no rows
    ],
    columns=["code", "name", "level", "parent_code", "lat", "lon", "population"],
)

_DEFAULTS = {T.StringType(): "x", T.BooleanType(): False, T.IntegerType(): 0,
             T.DoubleType(): 0.0, T.TimestampType(): dt.datetime(2025, 3, 3, 9, 0), T.DateType(): W0}


def silver(spark, schema: T.StructType, rows: list[dict]):
    """Rows of a silver table: given fields, county/township from region_code, defaults elsewhere."""
    full = []
    for i, row in enumerate(rows):
        row = dict(row)
        code = row.setdefault("region_code", T1)
        row.setdefault("township_code", code[:9] + "000")
        row.setdefault("county_code", code[:6] + "000000")
        row.setdefault("dispute_type", "其他")
        for f in schema.fields:
            if f.name not in row:
                default = None if f.nullable else _DEFAULTS[f.dataType]
                row[f.name] = f"{f.name}-{i}" if f.name.endswith("_id") else default
        full.append(tuple(row[f.name] for f in schema.fields))
    return spark.createDataFrame(full, schema)


def empty(spark, schema):
    return spark.createDataFrame([], schema)


# --- counts and signals on records -------------------------------------------------------------

def test_counts_per_feed_type_and_level(spark):
    calls = silver(spark, HOTLINE_CALLS, [
        {"region_code": T1, "dispute_type": "劳动争议", "is_wage_arrears": True, "request_type": "投诉"},
        {"region_code": T1, "dispute_type": "劳动争议", "request_type": "咨询", "has_escalation_terms": True},
        {"region_code": T2, "dispute_type": "邻里"},
    ])
    orders = silver(spark, WORK_ORDERS, [
        {"region_code": T1, "dispute_type": "物业", "status": "退回", "urgency": "特急", "is_repeat": True},
        {"region_code": T1, "dispute_type": "物业", "status": "办结", "urgency": "一般"},
    ])
    cases = silver(spark, MEDIATION_CASES, [
        {"region_code": T2, "dispute_type": "邻里", "party_count": 6, "result": "调解不成功", "group_tendency": True},
        {"region_code": T2, "dispute_type": "劳动争议", "party_count": 2, "result": "调解中",
         "involves_migrant_workers": True},
    ])
    weekly = weekly_counts(tag_levels(union_records(calls, orders, cases)), signal_aggregations())
    no_repeats = weekly.select("*", F.lit(0).cast("long").alias("_n_repeat_calls"))
    rows = {(r["region_code"], r["level"]): r for r in derive_signals(no_repeats).collect()}

    t1, t2, c1 = rows[(T1, "township")], rows[(T2, "township")], rows[(C1, "county")]
    assert (t1["hotline_calls"], t1["work_orders"], t1["mediation_cases"], t1["total_contacts"]) == (2, 2, 0, 4)
    assert (t1["type_labour"], t1["type_property_mgmt"], t1["type_neighbour"], t1["wage_arrears"]) == (2, 2, 0, 1)
    assert t1["complaint_share"] == 0.5 and t1["returned_orders"] == 1
    assert t1["urgent_order_share"] == 0.5 and t1["repeat_order_share"] == 0.5
    assert t1["escalation_term_records"] == 1 and t1["escalation_term_share"] == 0.25
    assert (t2["type_neighbour"], t2["type_labour"], t2["wage_arrears"]) == (2, 1, 1)
    assert (t2["mediation_party_mean"], t2["mediation_party_max"], t2["large_group_cases"]) == (4.0, 6, 1)
    # one case still in mediation: 1 failed out of 1 with a result
    assert (t2["failed_mediations"], t2["failed_mediation_share"], t2["group_tendency_cases"]) == (1, 1.0, 1)
    # county = its records counted directly; no mediation in T1 → share 0 (denominator 0)
    assert c1["total_contacts"] == 7 and c1["type_labour"] == 3 and c1["complaint_share"] == pytest.approx(1 / 3)
    assert t1["failed_mediation_share"] == 0.0 and t1["mediation_party_mean"] == 0.0
    city, province = "370100000000", "370000000000"
    assert set(rows) == {(T1, "township"), (T2, "township"), (C1, "county"), (city, "city"), (province, "province")}
    assert rows[(city, "city")]["total_contacts"] == rows[(province, "province")]["total_contacts"] == 7


def test_villages_and_referrals_are_counted_where_records_name_them(spark):
    village = T1[:9] + "007"
    calls = silver(spark, HOTLINE_CALLS, [
        {"region_code": village, "line": "12345"}, {"region_code": village, "line": "12348"},
        {"region_code": T1, "line": " 12345 "}, {"region_code": T1, "line": None},
    ])
    cases = silver(spark, MEDIATION_CASES, [
        {"region_code": village, "case_source": "信访转办"}, {"region_code": T1, "case_source": "公安移交"},
        {"region_code": T1, "case_source": "法院委派"}, {"region_code": T1, "case_source": "热线转办"},
        {"region_code": T1, "case_source": "当事人申请"}, {"region_code": T1, "case_source": None},
    ])
    weekly = weekly_counts(tag_levels(union_records(calls, empty(spark, WORK_ORDERS), cases)),
                           referral_aggregations())
    rows = {(r["region_code"], r["level"]): r for r in derive_referral_shares(weekly).collect()}
    v, t = rows[(village, "village")], rows[(T1, "township")]
    # the village: only the records that name it; the township: all of them
    assert (v["hotline_calls"], v["mediation_cases"], v["line_12345_calls"], v["petition_referral_cases"]) == (2, 1, 1, 1)
    assert (t["hotline_calls"], t["mediation_cases"], t["line_12345_calls"]) == (4, 6, 2)
    assert t["line_12345_share"] == 0.5
    assert (t["court_referral_cases"], t["police_referral_cases"], t["petition_referral_cases"],
            t["hotline_referral_cases"], t["referral_cases"]) == (1, 1, 1, 1, 3)
    assert t["referral_share"] == pytest.approx(3 / 6)
    assert {lv for _, lv in rows} == {"village", "township", "county", "city", "province"}
    assert [code for code, lv in rows if lv == "village"] == [village]  # records at township level name no village


def test_repeat_caller_share(spark):
    calls = silver(spark, HOTLINE_CALLS, [
        {"caller_key": "A", "week_start": week(0), "region_code": T1},
        {"caller_key": "B", "week_start": week(0), "region_code": T1},
        {"caller_key": "B", "week_start": week(0), "region_code": T1},   # twice this week: both repeat
        {"caller_key": None, "week_start": week(0), "region_code": T1},  # unknown caller: never a repeat
        {"caller_key": None, "week_start": week(0), "region_code": T1},
        {"caller_key": "A", "week_start": week(3), "region_code": T1},   # heard 3 weeks ago: repeat
        {"caller_key": "A", "week_start": week(8), "region_code": T1},   # last heard 5 weeks ago: not
        {"caller_key": "A", "week_start": week(9), "region_code": T2},   # new township, same county
    ])
    got = {(r["region_code"], r["level"], r["week_start"]): r["_n_repeat_calls"]
           for r in repeat_calls(calls).collect()}
    assert got[(T1, "township", week(0))] == 2
    assert got[(T1, "township", week(3))] == 1
    assert got[(T1, "township", week(8))] == 0
    assert got[(T2, "township", week(9))] == 0
    assert got[(C1, "county", week(9))] == 1  # A was heard in the county in week 8


def test_repeat_calls_from_a_week_equal_the_full_computation(spark):
    # A weekly rebuild asks only for its weeks; calls from 4 weeks before them still decide whether a call repeats.
    calls = silver(spark, HOTLINE_CALLS, [
        {"caller_key": "C", "week_start": week(5), "region_code": T1},   # 3 weeks before week 8: in the look-back
        {"caller_key": "C", "week_start": week(8), "region_code": T1},
        {"caller_key": "D", "week_start": week(3), "region_code": T1},   # 5 weeks before: outside it
        {"caller_key": "D", "week_start": week(8), "region_code": T1},
        {"caller_key": "E", "week_start": week(9), "region_code": T2},
        {"caller_key": "E", "week_start": week(9), "region_code": T2},   # twice in week 9
        {"caller_key": "E", "week_start": week(7), "region_code": T1},   # before, other township, same county
    ])

    def counts(frame):
        return {(r["region_code"], r["level"], r["week_start"]): r["_n_repeat_calls"] for r in frame.collect()}

    full, since = counts(repeat_calls(calls)), counts(repeat_calls(calls, from_week=week(8)))
    assert since == {k: v for k, v in full.items() if k[2] >= week(8)}
    assert since[(T1, "township", week(8))] == 1  # C, not D
    assert since[(T2, "township", week(9))] == 2 and since[(C1, "county", week(9))] == 2
    assert min(k[2] for k in full) == week(3) and min(k[2] for k in since) == week(8)


# --- dynamics on a hand-computed series --------------------------------------------------------

def test_chg_8w_and_z_on_hand_series(spark):
    x = [3, 0, 5, 1, 2, 0, 4, 6, 2, 10]
    labour = [0, 0, 0, 0, 0, 0, 0, 0, 0, 9]
    cols = [*CHANGE_BASES, *TYPE_COUNT_COLUMNS]
    rows = []
    for k, (xk, lk) in enumerate(zip(x, labour)):
        values = {c: 0 for c in cols}
        values.update(total_contacts=xk, type_labour=lk)
        rows.append(("R", "township", week(k), *[values[c] for c in cols]))
    schema = T.StructType([T.StructField("region_code", T.StringType()), T.StructField("level", T.StringType()),
                           T.StructField("week_start", T.DateType())] + [T.StructField(c, T.LongType()) for c in cols])
    out = {r["week_start"]: r for r in add_dynamics(spark.createDataFrame(rows, schema)).collect()}

    first, second, last = out[week(0)], out[week(1)], out[week(9)]
    assert first["total_contacts_chg_8w"] == 1.0 and first["total_contacts_z_8w"] == 0.0  # no history
    assert second["total_contacts_chg_8w"] == pytest.approx((0 + 1) / (3 + 1))           # one week of history
    assert second["total_contacts_z_8w"] == pytest.approx((0 - 3) / (0 + 1))
    # week 9: history = weeks 1..8 = [0,5,1,2,0,4,6,2], mean 2.5, population sd sqrt(4.5)
    assert last["total_contacts_chg_8w"] == pytest.approx(11 / 3.5)
    assert last["total_contacts_z_8w"] == pytest.approx(7.5 / (math.sqrt(4.5) + 1))
    assert statistics.pstdev(x[1:9]) == pytest.approx(math.sqrt(4.5))
    # week 8 uses all 8 earlier weeks (0..7), mean 21/8
    assert out[week(8)]["total_contacts_chg_8w"] == pytest.approx(3 / (21 / 8 + 1))
    # type_labour jumps 0 -> 9: (9+1)/(0+1) = 10; other types stay flat at 1.0
    assert last["max_type_chg_8w"] == pytest.approx(10.0) and out[week(4)]["max_type_chg_8w"] == 1.0
    assert all(out[week(k)]["wage_arrears_chg_8w"] == 1.0 for k in range(10))


def test_sparse_dynamics_equal_dense_dynamics_on_the_zero_filled_series(spark):
    """Villages have rows only in weeks with records: their windows must treat absent weeks as zeros."""
    x = [3, 0, 5, 0, 0, 0, 4, 6, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    cols = [*CHANGE_BASES, *TYPE_COUNT_COLUMNS]
    schema = T.StructType([T.StructField("region_code", T.StringType()), T.StructField("level", T.StringType()),
                           T.StructField("week_start", T.DateType())] + [T.StructField(c, T.LongType()) for c in cols])

    def rows(keep_zero_weeks: bool):
        out = []
        for k, xk in enumerate(x):
            if xk or keep_zero_weeks:
                values = {c: 0 for c in cols}
                values.update(total_contacts=xk, type_labour=xk % 4, referral_cases=xk % 3)
                out.append(("V", "village", week(k), *[values[c] for c in cols]))
        return spark.createDataFrame(out, schema)

    dense = {r["week_start"]: r for r in add_dynamics(rows(True)).collect()}
    sparse = {r["week_start"]: r for r in add_sparse_dynamics(rows(False), week(0)).collect()}
    assert len(sparse) == sum(1 for v in x if v) < len(dense)
    dynamic = [c for c in dense[week(0)].asDict() if c.endswith("_8w")]
    assert "referral_cases_chg_8w" in dynamic and "total_contacts_z_8w" in dynamic
    for day, row in sparse.items():
        for c in dynamic:
            assert row[c] == pytest.approx(dense[day][c], rel=1e-12, abs=1e-12), (day, c)
    assert sparse[week(19)]["total_contacts_chg_8w"] == pytest.approx(3 / 1)  # 8 quiet weeks behind it


# --- spatial ---------------------------------------------------------------------------------

def test_spatial_lag_on_toy_graph(spark):
    values = spark.createDataFrame(
        [("A", "township", W0, 1.0), ("B", "township", W0, 3.0), ("C", "township", W0, 8.0),
         ("A", "township", week(1), 2.0), ("B", "township", week(1), 0.0), ("C", "township", week(1), 4.0)],
        "region_code string, level string, week_start date, v double")
    edges = spark.createDataFrame(
        [("A", "township", "B"), ("A", "township", "C"), ("B", "township", "A")],
        "region_code string, level string, neighbour_code string")  # C has no neighbours
    got = {(r["region_code"], r["week_start"]): r["nb_v"] for r in spatial_lag(values, edges, ["v"]).collect()}
    assert got[("A", W0)] == 5.5 and got[("A", week(1))] == 2.0   # mean of B and C, same week
    assert got[("B", W0)] == 1.0 and got[("B", week(1))] == 2.0
    assert got[("C", W0)] == 8.0                                   # no neighbours: own value


def test_spatial_lag_sums_neighbours_in_ascending_order(spark):
    """Neighbour means must not depend on the order a shuffle delivers rows in (float addition is not
    associative; two builds of the same lake once gave different bits and model versions): the values
    are summed in ascending order. In delivery order 1e16 + (-1e16) + 1 = 1, sorted (-1e16 + 1) + 1e16 = 0."""
    values = spark.createDataFrame(
        [("N1", "township", W0, 1e16), ("N2", "township", W0, -1e16), ("N3", "township", W0, 1.0),
         ("X", "township", W0, 5.0)], "region_code string, level string, week_start date, v double").coalesce(1)
    edges = spark.createDataFrame([("X", "township", n) for n in ("N1", "N2", "N3")],
                                  "region_code string, level string, neighbour_code string")
    got = {r["region_code"]: r["nb_v"] for r in spatial_lag(values, edges, ["v"]).collect()}
    assert got["X"] == 0.0


def test_neighbour_edges_are_nearest_same_level():
    edges = neighbour_edges(REGIONS)
    town = edges[edges["level"] == "township"]
    # 4 townships: k=5 is clamped to the 3 others; counties: 2 → 1 neighbour each
    assert town.groupby("region_code").size().to_dict() == {T1: 3, T2: 3, T3: 3, T4: 3}
    assert set(edges.loc[edges["level"] == "county", "neighbour_code"]) == {C1, C2}
    nearest_t1 = town[town["region_code"] == T1].sort_values("distance_km")["neighbour_code"].iloc[0]
    assert nearest_t1 == T2  # 3.4 km away; T4 across the county line is 4.6 km
    assert town[town["region_code"] == T1]["distance_km"].min() == pytest.approx(
        haversine_km(36.67, 117.03, 36.64, 117.04))
    assert haversine_km(36.67, 117.03, 36.64, 117.04) < haversine_km(36.67, 117.03, 36.66, 116.98)
    assert not edges["neighbour_code"].eq(edges["region_code"]).any()


def test_season_rows():
    rows = dict((w, (woy, wsf)) for w, woy, wsf in season_rows(
        [dt.date(2025, 1, 20), dt.date(2025, 1, 27), dt.date(2025, 2, 3), dt.date(2025, 12, 29)]))
    assert rows[dt.date(2025, 1, 27)] == (5, 0)     # 春节 2025-01-29 falls in this week
    assert rows[dt.date(2025, 1, 20)] == (4, 1)
    assert rows[dt.date(2025, 2, 3)][1] == 54      # next: 2026-02-17, in the week of 2026-02-16
    assert rows[dt.date(2025, 12, 29)][0] == 1      # ISO week 1 of 2026


# --- the whole job ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(spark):
    calls = silver(spark, HOTLINE_CALLS, [
        {"region_code": T1, "week_start": week(0), "dispute_type": "邻里", "caller_key": "p"},
        {"region_code": "370102001001", "week_start": week(0), "dispute_type": "邻里", "caller_key": "q"},  # village → T1
        {"region_code": T2, "week_start": week(0), "dispute_type": "物业"},
        {"region_code": T4, "week_start": week(3), "dispute_type": "劳动争议", "is_wage_arrears": True},
        {"region_code": T1, "week_start": week(3), "dispute_type": "邻里", "has_escalation_terms": True},
        {"region_code": T1, "week_start": week(3), "dispute_type": "邻里", "caller_key": "p"},  # p again: repeat
        {"region_code": T2, "week_start": week(4), "dispute_type": "邻里", "caller_key": "q"},  # repeat in C1 only
    ])
    orders = silver(spark, WORK_ORDERS, [
        {"region_code": T3, "week_start": week(1), "dispute_type": "合同"},
        {"region_code": T1, "week_start": week(3), "dispute_type": "邻里", "status": "退回"},
    ])
    cases = silver(spark, MEDIATION_CASES, [
        {"region_code": T1, "week_start": week(3), "dispute_type": "邻里", "party_count": 3, "result": "调解中"},
        {"region_code": T2, "week_start": week(4), "dispute_type": "婚姻家庭", "party_count": 2, "result": "调解成功"},
    ])
    return build_region_week_features(calls, orders, cases, REGIONS, through=dt.date(2025, 4, 9)).toPandas()


def test_output_contract_and_no_nulls(built):
    assert list(built.columns) == [*KEY_COLUMNS, "region_name", *FEATURE_COLUMNS]
    assert not built[FEATURE_COLUMNS + KEY_COLUMNS].isna().any().any()
    # 8 regions (4 townships, 2 counties, the city, the province) × weeks 0..5 (through = Wednesday of week 5),
    # and the one village a record names, in its one week
    assert len(built) == 8 * 6 + 1
    assert built.loc[built["level"] == "village", ["region_code", "week_start"]].values.tolist() == [
        ["370102001001", week(0)]]
    assert sorted(built["week_start"].unique()) == [week(k) for k in range(6)]
    assert set(built.loc[built["level"] == "township", "county_code"]) == {C1, C2}
    counties = built[built["level"] == "county"]
    assert (counties["region_code"] == counties["county_code"]).all()


def test_zero_fill_of_missing_weeks(built):
    t1 = built[built["region_code"] == T1].set_index("week_start")
    assert t1.loc[week(0), "hotline_calls"] == 2 and t1.loc[week(0), "type_neighbour"] == 2
    for k in (1, 2, 4, 5):
        assert t1.loc[week(k), ["total_contacts", "hotline_calls", "type_neighbour"]].tolist() == [0, 0, 0]
    # week 1 after one week with 2 contacts: (0+1)/(2+1)
    assert t1.loc[week(1), "total_contacts_chg_8w"] == pytest.approx(1 / 3)
    # week 3: 4 contacts; history weeks 0..2 = [2,0,0]
    assert t1.loc[week(3), "total_contacts"] == 4 and t1.loc[week(3), "returned_orders"] == 1
    assert t1.loc[week(3), "total_contacts_chg_8w"] == pytest.approx(5 / (2 / 3 + 1))
    assert t1.loc[week(3), "escalation_term_share"] == pytest.approx(1 / 4)
    assert t1.loc[week(3), "failed_mediation_share"] == 0.0  # only 调解中: no result yet


def test_repeat_caller_share_in_build(built):
    share = built.set_index(["region_code", "week_start"])["repeat_caller_share"]
    assert share[(T1, week(0))] == 0.0            # p and q heard for the first time
    assert share[(T1, week(3))] == 0.5            # p again (3 weeks later); the other call has no caller_key
    assert share[(T2, week(4))] == 0.0 and share[(C1, week(4))] == 1.0  # q: new township, same county
    assert share[(T1, week(5))] == 0.0            # no calls: 0, not null


def test_county_counts_equal_sum_of_townships(built):
    counts = ["hotline_calls", "work_orders", "mediation_cases", "total_contacts", *TYPE_COUNT_COLUMNS,
              "wage_arrears", "returned_orders", "escalation_term_records", "failed_mediations"]
    towns = built[built["level"] == "township"].groupby(["county_code", "week_start"])[counts].sum()
    counties = built[built["level"] == "county"].set_index(["county_code", "week_start"])[counts]
    pd.testing.assert_frame_equal(counties.sort_index(), towns.sort_index(), check_dtype=False)
    assert counties["total_contacts"].sum() == 11
    city = built[built["level"] == "city"].set_index("week_start")[counts].sort_index()
    province = built[built["level"] == "province"].set_index("week_start")[counts].sort_index()
    pd.testing.assert_frame_equal(city, counties.groupby("week_start").sum().sort_index(), check_dtype=False)
    pd.testing.assert_frame_equal(province, city)
    assert (built.loc[built["level"] == "city", "region_code"] == "370100000000").all()
    # no county's code: a county analyst's row filter (county_code) never shows a city's or the province's rows
    assert set(built.loc[built["level"].isin(["city", "province"]), "county_code"]) == {"370100000000", "370000000000"}
    assert built.loc[built["level"] == "city", "region_name"].isna().all()  # regions.csv names no city here


def test_types_and_season(built):
    assert str(built["total_contacts"].dtype) == "int64" and str(built["complaint_share"].dtype) == "float64"
    assert set(built["week_of_year"]) == {10, 11, 12, 13, 14, 15}
    assert (built["weeks_to_spring_festival"] > 40).all()  # March 2025 → 2026-02-17
    assert (built.loc[built["week_start"] == week(0), "total_contacts_chg_8w"] == 1.0).all()


def test_spatial_features_in_build(built):
    wk = built[(built["week_start"] == week(3)) & (built["level"] == "county")].set_index("region_code")
    # two counties: each one's only neighbour is the other
    assert wk.loc[C1, "nb_escalation_term_share"] == pytest.approx(wk.loc[C2, "escalation_term_share"])
    assert wk.loc[C2, "nb_total_contacts_chg_8w"] == pytest.approx(wk.loc[C1, "total_contacts_chg_8w"])


def test_run_reads_silver_and_publishes_gold(spark, tmp_path):
    from fengqiao.lake import Lake, read_table
    from jobs.gold.region_week_features import run

    lake = Lake.at(tmp_path / "lake")
    calls = silver(spark, HOTLINE_CALLS, [{"region_code": T1, "week_start": week(0)},
                                          {"region_code": T4, "week_start": week(2)}])
    calls.write.partitionBy("week_start").parquet(str(lake.silver("hotline_calls")))
    silver(spark, WORK_ORDERS, [{"region_code": T2, "week_start": week(1)}]).write.partitionBy(
        "week_start").parquet(str(lake.silver("work_orders")))
    # no silver/mediation_cases yet: an empty feed, not an error
    lake.reference.mkdir(parents=True)
    REGIONS.to_csv(lake.reference / "regions.csv", index=False)

    result = run(spark, lake, through="2025-03-19")
    assert result["rows"] == 8 * 3
    assert result["rows_by_level"] == {"township": 12, "county": 6, "city": 3, "province": 3}
    gold = read_table(lake.gold("region_week_features"))
    assert sorted(gold["week_start"].unique()) == [week(0), week(1), week(2)]
    assert set([*KEY_COLUMNS, "region_name", *FEATURE_COLUMNS]) == set(gold.columns)
    assert gold["total_contacts"].sum() == 4 * 3  # township, county, city and province copies of 3 records
    assert not any(p.name.startswith("gold-") for p in lake.staging.iterdir())  # staging moved into place


def test_no_records_gives_an_empty_table_with_the_contract(spark):
    none = [empty(spark, s) for s in (HOTLINE_CALLS, WORK_ORDERS, MEDIATION_CASES)]
    df = build_region_week_features(*none, REGIONS)
    assert df.columns == [*KEY_COLUMNS, "region_name", *FEATURE_COLUMNS] and df.count() == 0


# --- incremental rebuild ------------------------------------------------------------------------

_TYPES = ["邻里", "劳动争议", "婚姻家庭", "物业"]


def _records(weeks, seed: int, tag: str):
    """Deterministic rows for every township and week: a few calls (some from repeat callers), orders, cases."""
    import random

    r = random.Random(seed)
    calls, orders, cases = [], [], []
    for k in weeks:
        for town in (T1, T2, T3, T4):
            for _ in range(r.randint(0, 4)):
                # some calls name one of T1's villages (rows in the weeks they are named)
                place = town[:9] + f"{r.randint(1, 3):03d}" if town == T1 and r.random() < 0.5 else town
                calls.append({"region_code": place, "week_start": week(k), "dispute_type": r.choice(_TYPES),
                              "line": r.choice(["12345", "12348"]),
                              "caller_key": f"c{r.randint(0, 5)}" if r.random() < 0.7 else None,
                              "request_type": r.choice(["投诉", "咨询"]), "has_escalation_terms": r.random() < 0.2,
                              "call_id": f"{tag}-call-{len(calls)}"})
            for _ in range(r.randint(0, 2)):
                orders.append({"region_code": town, "week_start": week(k), "dispute_type": r.choice(_TYPES),
                               "order_id": f"{tag}-order-{len(orders)}"})
            if r.random() < 0.5:
                cases.append({"region_code": town, "week_start": week(k), "dispute_type": r.choice(_TYPES),
                              "case_source": r.choice(["法院委派", "公安移交", "信访转办", "热线转办", "当事人申请"]),
                              "party_count": r.randint(1, 7), "result": r.choice(["调解成功", "调解不成功"]),
                              "case_id": f"{tag}-case-{len(cases)}"})
    return calls, orders, cases


def _write_weeks(spark, lake, rows_by_table, weeks):
    """Rewrite only these weeks' partition folders, as the silver merge does (others untouched)."""
    import shutil

    schemas = {"hotline_calls": HOTLINE_CALLS, "work_orders": WORK_ORDERS, "mediation_cases": MEDIATION_CASES}
    for table, rows in rows_by_table.items():
        df = silver(spark, schemas[table], rows)
        for k in weeks:
            folder = lake.silver(table) / f"week_start={week(k)}"
            shutil.rmtree(folder, ignore_errors=True)
            part = df.where(F.col("week_start") == F.lit(week(k))).drop("week_start")
            if part.count():
                part.coalesce(1).write.parquet(str(folder))


@pytest.fixture()
def history_lake(spark, tmp_path):
    """A lake with 14 weeks of silver (weeks 0..13) and its features published."""
    from fengqiao.lake import Lake
    from jobs.gold.region_week_features import run

    lake = Lake.at(tmp_path / "lake")
    lake.reference.mkdir(parents=True)
    REGIONS.to_csv(lake.reference / "regions.csv", index=False)
    calls, orders, cases = _records(range(14), seed=1, tag="a")
    rows = {"hotline_calls": calls, "work_orders": orders, "mediation_cases": cases}
    _write_weeks(spark, lake, rows, range(14))
    assert run(spark, lake)["mode"] == "full"
    return lake, rows


def _gold(path):
    from fengqiao.lake import read_table

    return read_table(path).sort_values(["region_code", "level", "week_start"], ignore_index=True)


def test_incremental_rebuild_equals_full_and_skips_old_weeks(spark, history_lake, tmp_path):
    import os
    import shutil

    from fengqiao.lake import Lake
    from jobs.gold.region_week_features import run

    lake, rows = history_lake
    # A late record lands in week 11 and a new week 14 arrives: silver rewrites weeks 11 and 14 only.
    late, new_o, new_c = _records([11, 14], seed=2, tag="b")
    rows = {"hotline_calls": rows["hotline_calls"] + late, "work_orders": rows["work_orders"] + new_o,
            "mediation_cases": rows["mediation_cases"] + new_c}
    _write_weeks(spark, lake, rows, [11, 14])
    # An old week's file is overwritten with garbage of the same size and mtime: its fingerprint is
    # unchanged, so only a run that re-reads old history would trip over it.
    old_file = next((lake.silver("hotline_calls") / f"week_start={week(1)}").glob("*.parquet"))
    reference = tmp_path / "reference"
    shutil.copytree(lake.root, reference)  # a copy of the same silver, intact, for the full rebuild
    stat = old_file.stat()
    old_file.write_bytes(b"\0" * stat.st_size)
    os.utime(old_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    result = run(spark, lake)
    assert result["mode"] == "incremental" and result["rebuilt_from"] == str(week(11))
    assert result["kept_weeks"] == 11 and result["last_week"] == str(week(14))

    full = run(spark, Lake.at(reference), full=True)
    assert full["mode"] == "full"
    got, want = _gold(lake.gold("region_week_features")), _gold(Lake.at(reference).gold("region_week_features"))
    dense = got[got["level"] != "village"]
    assert len(dense) == 8 * 15 and len(got) == len(want) > len(dense)  # 6 regions + city + province; villages
    assert got["referral_cases"].sum() > 0 and got["line_12345_calls"].sum() > 0
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
    # And the published weeks before week 11 are the very same files (hard links), not rewritten.
    assert run(spark, lake)["changed"] is False


def test_rebuild_plan(history_lake):
    import json

    from fengqiao.lake.markers import INPUTS_MARKER
    from jobs.gold.region_week_features import plan_rebuild

    lake, _ = history_lake
    target = lake.gold("region_week_features")
    previous = json.loads((target / INPUTS_MARKER).read_text(encoding="utf-8"))
    published = [week(k) for k in range(14)]
    same = json.loads(json.dumps(previous))
    assert plan_rebuild(previous, same, published)["mode"] == "none"
    early = json.loads(json.dumps(previous))
    early["silver"]["work_orders"][f"week_start={week(3)}"] = "changed"
    assert plan_rebuild(previous, early, published)["mode"] == "full"  # needs weeks before the first
    moved_back = dict(previous, through="2025-04-01")
    later = dict(previous, through=str(week(20)))
    previous_dated = dict(previous, through=str(week(13)))
    assert plan_rebuild(previous_dated, moved_back, published)["mode"] == "full"
    plan = plan_rebuild(previous_dated, later, published)
    assert plan["mode"] == "incremental" and plan["since"] == week(14)
    assert plan_rebuild(previous, dict(previous, regions="other"), published)["mode"] == "full"
    assert plan_rebuild(dict(previous, version=1), previous, published)["mode"] == "full"
