"""Acknowledgements: dispositions dropped as signed CSV files and sent signed to the webhook receiver land
once in gold/alert_dispositions; unknown references are rejected; response rates per county."""
from __future__ import annotations

import secrets
import time

import pandas as pd
import pytest

from ack_client import drop_file, post
from fengqiao.lake import read_table, write_table
from fengqiao.delivery.alert_channels import ALERT_COLUMNS
from fengqiao.delivery.alert_plan import alert_id_of
from fengqiao.delivery.bureau_keys import KeyFileError, issue_key
from fengqiao.delivery.dispositions import DISPOSITION_COLUMNS, normalise_alert_id
from fengqiao.core.settings import Settings
from jobs.gold import alert_dispositions as ingest_dispositions
from jobs.gold.ack_receiver import serve_acknowledgements
from jobs.gold.response_rates import response_rates
from outputs_lake import GANSHIQIAO, JIEFANGLU, LIXIA, SHIZHONG, WEEK, build_tiny_lake

# Three alerts of the tiny lake's week, sent Monday 2025-03-24 08:00 (Beijing time).
SENT_AT = pd.Timestamp("2025-03-24T00:00:00Z")
ALERT_RED = alert_id_of(JIEFANGLU, WEEK, "jiefanglu-sfs@example.cn")
ALERT_ORANGE = alert_id_of(GANSHIQIAO, WEEK, "shizhong-sfj@example.cn")
ALERT_YELLOW = alert_id_of(SHIZHONG, WEEK, "shizhong-sfj@example.cn")    # recorded before alerts had references
ALERT_FAILED = alert_id_of(JIEFANGLU, WEEK, "nobody@example.cn")
REF_RED, REF_ORANGE, REF_FAILED = (secrets.token_urlsafe(16) for _ in range(3))
UNKNOWN = secrets.token_urlsafe(16)
HEADER = "alert_id,disposition,disposed_at,note\n"


def _alert(aid, ref, region, unit, status="sent", channel="email", minutes=0):
    return {"alert_id": aid, "region_code": region, "week_start": WEEK, "risk_level": "红", "recipient_unit": unit,
            "channel": channel, "sent_at": SENT_AT + pd.Timedelta(minutes=minutes), "status": status,
            "recipient_address": None, "detail": None, "ack_ref": ref}


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """Keys of 解放路街道司法所 and 历下区司法局 (county 历下区) and 市中区司法局, in a 0600 key file."""
    path = tmp_path / "secrets" / "bureau_keys.csv"
    monkeypatch.setenv("FENGQIAO_BUREAU_KEYS", str(path))
    monkeypatch.delenv("FENGQIAO_WEBHOOK_KEY", raising=False)
    return {"jiefanglu": issue_key(JIEFANGLU, path), "lixia": issue_key(LIXIA, path),
            "shizhong": issue_key(SHIZHONG, path)}


@pytest.fixture
def lake(tmp_path, monkeypatch, keys):
    monkeypatch.delenv("FENGQIAO_DISPOSITIONS_DIR", raising=False)
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)
    rows = pd.DataFrame([
        _alert(ALERT_RED, REF_RED, JIEFANGLU, "解放路街道司法所", status="failed"),
        _alert(ALERT_RED, REF_RED, JIEFANGLU, "解放路街道司法所", minutes=1),
        _alert(ALERT_RED, REF_RED, JIEFANGLU, "解放路街道司法所", channel="webhook", minutes=30),
        _alert(ALERT_ORANGE, REF_ORANGE, GANSHIQIAO, "市中区司法局"),
        _alert(ALERT_YELLOW, None, SHIZHONG, "市中区司法局"),
        _alert(ALERT_FAILED, REF_FAILED, JIEFANGLU, "解放路街道司法所", status="failed"),
    ], columns=ALERT_COLUMNS)
    rows["sent_at"] = pd.to_datetime(rows["sent_at"], utc=True)
    write_table(rows, lake, "gold", "alerts")
    return lake


def test_signed_file_drops_are_stored_once_and_bad_rows_rejected(lake, keys):
    inbox = lake.root / "inbox" / "dispositions"
    office = keys["jiefanglu"]
    drop_file(inbox, "lixia-2025-03-26.csv", HEADER +
              f"{REF_RED},已核实,2025-03-26T08:00:00+08:00,经核查系欠薪纠纷，联系人张建国，电话13812345678\n"
              f" {REF_RED} ,handled,2025-03-28 10:00,已组织调解\n"
              f"{UNKNOWN},confirmed,2025-03-26,\n"
              f"{REF_ORANGE},confirmed,2025-03-26,\n"          # 市中区's alert: not this office's county
              f"{REF_RED},已上报,2025-03-26,\n"
              f"{REF_FAILED},confirmed,2025-03-26,\n"
              f"{REF_RED},Dismissed,2025-03-10,\n", office.key_id, office.key)
    # A bureau's Excel export: GB18030 with Chinese headers; the old-style id of an alert recorded before
    # references existed is still understood (case and dashes forgiven).
    shizhong = keys["shizhong"]
    drop_file(inbox, "shizhong.csv", f"确认编号,处置结果,处置时间,备注\n{REF_ORANGE},已排除,2025年3月27日,经核查无风险\n"
              f"{ALERT_YELLOW.lower().replace('-', '')},已处置,2025-03-29,\n", shizhong.key_id, shizhong.key,
              encoding="gb18030")
    drop_file(inbox, "broken.csv", "id,result\n1,2\n", shizhong.key_id, shizhong.key)

    first = ingest_dispositions.run(lake, Settings.from_env())
    second = ingest_dispositions.run(lake, Settings.from_env())

    assert first["files"] == 3 and first["stored"] == 4 and first["rejected"] == 6 and first["held"] == 0
    reasons = {r["where"]: r["reason"] for r in first["rejections"]}
    assert "unknown alert_id" in reasons["lixia-2025-03-26.csv:4"]
    assert "cannot answer an alert of county 370103000000" in reasons["lixia-2025-03-26.csv:5"]
    assert first["forbidden"] == 1
    assert "已核实/confirmed" in reasons["lixia-2025-03-26.csv:6"]
    assert "never delivered" in reasons["lixia-2025-03-26.csv:7"]
    assert "before the alert's week" in reasons["lixia-2025-03-26.csv:8"]
    assert "missing columns" in reasons["broken.csv"]
    assert second["stored"] == 0 and second["duplicates"] == 4                  # idempotent

    stored = read_table(lake.gold("alert_dispositions")).sort_values("disposed_at", ignore_index=True)
    assert set(DISPOSITION_COLUMNS) <= set(stored.columns) and len(stored) == 4
    assert list(stored["alert_id"]) == [ALERT_RED, ALERT_ORANGE, ALERT_RED, ALERT_YELLOW]
    assert list(stored["disposition"]) == ["confirmed", "dismissed", "handled", "handled"]
    assert list(stored["disposition_zh"]) == ["已核实", "已排除", "已处置", "已处置"]
    assert list(stored["key_id"]) == [office.key_id, shizhong.key_id, office.key_id, shizhong.key_id]
    assert (stored["received_via"] == "file").all() and (stored["week_start"] == WEEK).all()
    assert list(stored["region_code"]) == [JIEFANGLU, GANSHIQIAO, JIEFANGLU, SHIZHONG]
    assert stored["recipient_unit"].iloc[1] == "市中区司法局"
    assert stored["disposed_at"].iloc[0] == pd.Timestamp("2025-03-26T00:00:00Z")
    note = stored["note_masked"].iloc[0]
    assert "13812345678" not in note and "张建国" not in note and "[电话]" in note


def test_dispositions_folder_setting(lake, keys, tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    key = keys["shizhong"]
    drop_file(folder, "a.csv", HEADER + f"{REF_ORANGE},已处置,2025-03-30,\n", key.key_id, key.key)
    monkeypatch.setenv("FENGQIAO_DISPOSITIONS_DIR", str(folder))
    assert ingest_dispositions.run(lake, Settings.from_env())["stored"] == 1
    assert ingest_dispositions.run(lake.root, Settings.from_env())["duplicates"] == 1
    monkeypatch.delenv("FENGQIAO_DISPOSITIONS_DIR")
    assert ingest_dispositions.run(lake, Settings.from_env())["files"] == 0                       # the default inbox is empty


@pytest.fixture
def receiver(lake):
    server = serve_acknowledgements("127.0.0.1", 0, lake, background=True)
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/ack"
    server.shutdown()
    server.server_close()


def test_webhook_ack_checks_the_signature_and_stores_once(lake, keys, receiver):
    bureau, other = keys["shizhong"], keys["lixia"]
    ack = {"alert_id": REF_ORANGE, "disposition": "已处置", "disposed_at": "2025-03-28T15:30:00+08:00",
           "note": "已约谈开发商，当事人张伟反映已收到部分欠款，电话13812345678"}

    assert post(receiver, ack, bureau.key_id, other.key)[0] == 401            # another bureau's key
    assert post(receiver, ack, bureau.key_id, "0" * 64)[0] == 401
    assert not lake.gold("alert_dispositions").exists()                       # nothing stored

    assert post(receiver, ack, bureau.key_id, bureau.key) == (200, {"status": "stored", "alert_id": REF_ORANGE})
    again = post(receiver, ack, bureau.key_id, bureau.key, timestamp=int(time.time()) - 2)
    assert again == (200, {"status": "duplicate", "alert_id": REF_ORANGE})   # a new request, the same answer
    status, answer = post(receiver, {**ack, "alert_id": UNKNOWN}, bureau.key_id, bureau.key)
    assert status == 422 and "unknown alert_id" in answer["error"]
    assert post(receiver, b"not json", bureau.key_id, bureau.key)[0] == 400
    assert post(receiver.replace("/ack", "/other"), ack, bureau.key_id, bureau.key)[0] == 404

    stored = read_table(lake.gold("alert_dispositions"))
    assert len(stored) == 1
    row = stored.iloc[0]
    assert (row["alert_id"], row["disposition"], row["disposition_zh"], row["received_via"], row["key_id"]) == \
        (ALERT_ORANGE, "handled", "已处置", "webhook", bureau.key_id)
    assert row["region_code"] == GANSHIQIAO and "张伟" not in row["note_masked"] and "[电话]" in row["note_masked"]


def test_receiver_needs_bureau_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("FENGQIAO_BUREAU_KEYS", str(tmp_path / "none.csv"))
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)
    with pytest.raises(KeyFileError, match="FENGQIAO_BUREAU_KEYS"):
        serve_acknowledgements("127.0.0.1", 0, lake, background=True)


def test_old_alert_reference_is_forgiving_about_case_and_dashes():
    assert normalise_alert_id(" 5ad3 1e36 5e1f 414d 53c5 ") == "5AD3-1E36-5E1F-414D-53C5"


def test_response_rates_per_county(lake, keys, receiver):
    office = keys["jiefanglu"]
    drop_file(lake.root / "inbox" / "dispositions", "d.csv", HEADER +
              f"{REF_RED},confirmed,2025-03-26T08:01:00+08:00,\n"     # 2 days after the first sent row (08:01)
              f"{REF_RED},handled,2025-04-02T08:01:00+08:00,\n",      # a later disposition: not the response time
              office.key_id, office.key)
    ingest_dispositions.run(lake, Settings.from_env())
    bureau = keys["shizhong"]
    post(receiver, {"alert_id": REF_ORANGE, "disposition": "dismissed", "disposed_at": "2025-03-28T08:00:00+08:00"},
         bureau.key_id, bureau.key)

    rates = response_rates(lake).set_index("county_code")

    assert list(rates.index) == [LIXIA, SHIZHONG]
    assert rates.loc[LIXIA, "county_name"] == "历下区" and rates.loc[SHIZHONG, "county_name"] == "市中区"
    assert rates.loc[LIXIA, ["alerts_sent", "acknowledged"]].tolist() == [1, 1]         # ALERT_FAILED not counted
    assert rates.loc[LIXIA, "ack_share"] == 1.0 and rates.loc[LIXIA, "median_days_to_respond"] == 2.0
    assert rates.loc[SHIZHONG, ["alerts_sent", "acknowledged"]].tolist() == [2, 1]
    assert rates.loc[SHIZHONG, "ack_share"] == 0.5 and rates.loc[SHIZHONG, "median_days_to_respond"] == 4.0
    assert response_rates(lake, WEEK)["alerts_sent"].sum() == 3
    assert response_rates(lake, "2025-03-10").empty


def test_an_alert_asks_for_exactly_the_answers_that_are_stored(lake, keys):
    """The codes and the reply table the alert names are those ingest_dispositions accepts: a bureau that
    answers as the mail says is stored."""
    import re

    from fengqiao.delivery.dispositions import DISPOSITIONS
    from fengqiao.render.alert_messages import REPLY_INSTRUCTIONS

    offered = re.findall(r"(已\w\w)（", REPLY_INSTRUCTIONS[0])
    assert sorted(offered) == sorted(DISPOSITIONS.values())
    columns = re.search(r"回执表（(.+?)）", REPLY_INSTRUCTIONS[1]).group(1).split("、")
    office = keys["jiefanglu"]
    drop_file(lake.root / "inbox" / "dispositions", "answer.csv",
              ",".join(columns) + f"\n{REF_RED},{offered[0]},2025-03-26,已约谈双方\n", office.key_id, office.key)
    result = ingest_dispositions.run(lake, Settings.from_env())
    assert result["stored"] == 1 and result["rejected"] == 0
    stored = read_table(lake.gold("alert_dispositions"))
    assert list(stored["disposition_zh"]) == [offered[0]]
