"""Acknowledgements: dispositions dropped as CSV files and sent to the signed webhook receiver land once
in gold/alert_dispositions; unknown references are rejected; response rates per county."""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

import pandas as pd
import pytest

from fengqiao.lake import read_table, write_table
from fengqiao.outputs.acknowledgements import (
    DISPOSITION_COLUMNS, normalise_alert_id, response_rates, serve_acknowledgements,
)
from fengqiao.outputs.alerts import ALERT_COLUMNS, alert_id_of
from jobs import ingest_dispositions
from outputs_lake import GANSHIQIAO, JIEFANGLU, LIXIA, SHIZHONG, WEEK, build_tiny_lake

KEY = "test-ack-key"
# Three alerts of the tiny lake's week, sent Monday 2025-03-24 08:00 (Beijing time).
SENT_AT = pd.Timestamp("2025-03-24T00:00:00Z")
ALERT_RED = alert_id_of(JIEFANGLU, WEEK, "jiefanglu-sfs@example.cn")
ALERT_ORANGE = alert_id_of(GANSHIQIAO, WEEK, "shizhong-sfj@example.cn")
ALERT_YELLOW = alert_id_of(SHIZHONG, WEEK, "shizhong-sfj@example.cn")
ALERT_FAILED = alert_id_of(JIEFANGLU, WEEK, "nobody@example.cn")
UNKNOWN = "0000-1111-2222-3333-4444"


def _alert(aid, region, unit, status="sent", channel="email", minutes=0):
    return {"alert_id": aid, "region_code": region, "week_start": WEEK, "risk_level": "红", "recipient_unit": unit,
            "channel": channel, "sent_at": SENT_AT + pd.Timedelta(minutes=minutes), "status": status,
            "recipient_address": None, "detail": None}


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.delenv("FENGQIAO_DISPOSITIONS_DIR", raising=False)
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)
    rows = pd.DataFrame([
        _alert(ALERT_RED, JIEFANGLU, "解放路街道司法所", status="failed"),
        _alert(ALERT_RED, JIEFANGLU, "解放路街道司法所", minutes=1),
        _alert(ALERT_RED, JIEFANGLU, "解放路街道司法所", channel="webhook", minutes=30),
        _alert(ALERT_ORANGE, GANSHIQIAO, "市中区司法局"),
        _alert(ALERT_YELLOW, SHIZHONG, "市中区司法局"),
        _alert(ALERT_FAILED, JIEFANGLU, "解放路街道司法所", status="failed"),
    ], columns=ALERT_COLUMNS)
    rows["sent_at"] = pd.to_datetime(rows["sent_at"], utc=True)
    write_table(rows, lake, "gold", "alerts")
    return lake


def _drop(folder, name, text, encoding="utf-8"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))


def test_file_drop_dispositions_are_stored_once_and_bad_ones_rejected(lake):
    inbox = lake.root / "inbox" / "dispositions"
    _drop(inbox, "lixia-2025-03-26.csv",
          "alert_id,disposition,disposed_at,note\n"
          f"{ALERT_RED},已核实,2025-03-26T08:00:00+08:00,经核查系欠薪纠纷，联系人张建国，电话13812345678\n"
          f"{ALERT_RED.lower().replace('-', '')},handled,2025-03-28 10:00,已组织调解\n"
          f"{UNKNOWN},confirmed,2025-03-26,\n"
          f"{ALERT_ORANGE},已上报,2025-03-26,\n"
          f"{ALERT_FAILED},confirmed,2025-03-26,\n"
          f"{ALERT_ORANGE},Dismissed,2025-03-10,\n")
    # A bureau's Excel export: GB18030 with Chinese headers.
    _drop(inbox, "shizhong.csv", f"确认编号,处置结果,处置时间,备注\n{ALERT_ORANGE},已排除,2025年3月27日,经核查无风险\n",
          encoding="gb18030")
    _drop(inbox, "broken.csv", "id,result\n1,2\n")

    first = ingest_dispositions.run(lake)
    second = ingest_dispositions.run(lake)

    assert first["files"] == 3 and first["stored"] == 3 and first["rejected"] == 5
    reasons = {r["where"]: r["reason"] for r in first["rejections"]}
    assert "unknown alert_id 0000-1111-2222-3333-4444" in reasons["lixia-2025-03-26.csv:4"]
    assert "已核实/confirmed" in reasons["lixia-2025-03-26.csv:5"]
    assert "never delivered" in reasons["lixia-2025-03-26.csv:6"]
    assert "before the alert's week" in reasons["lixia-2025-03-26.csv:7"]
    assert "missing columns" in reasons["broken.csv"]
    assert second["stored"] == 0 and second["duplicates"] == 3                  # idempotent

    stored = read_table(lake.gold("alert_dispositions")).sort_values("disposed_at", ignore_index=True)
    assert set(DISPOSITION_COLUMNS) <= set(stored.columns) and len(stored) == 3
    assert list(stored["alert_id"]) == [ALERT_RED, ALERT_ORANGE, ALERT_RED]
    assert list(stored["disposition"]) == ["confirmed", "dismissed", "handled"]
    assert list(stored["disposition_zh"]) == ["已核实", "已排除", "已处置"]
    assert (stored["received_via"] == "file").all() and (stored["week_start"] == WEEK).all()
    assert list(stored["region_code"]) == [JIEFANGLU, GANSHIQIAO, JIEFANGLU]
    assert stored["recipient_unit"].iloc[1] == "市中区司法局"
    assert stored["disposed_at"].iloc[0] == pd.Timestamp("2025-03-26T00:00:00Z")
    note = stored["note_masked"].iloc[0]
    assert "13812345678" not in note and "张建国" not in note and "[电话]" in note


def test_dispositions_folder_setting(lake, tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    _drop(folder, "a.csv", f"alert_id,disposition,disposed_at,note\n{ALERT_YELLOW},已处置,2025-03-30,\n")
    monkeypatch.setenv("FENGQIAO_DISPOSITIONS_DIR", str(folder))
    assert ingest_dispositions.run(lake)["stored"] == 1
    assert ingest_dispositions.run(lake.root)["duplicates"] == 1
    monkeypatch.delenv("FENGQIAO_DISPOSITIONS_DIR")
    assert ingest_dispositions.run(lake)["files"] == 0                       # the default inbox is empty


def _post(url, payload: dict | bytes, key=KEY, signature=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sig = signature or "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Fengqiao-Signature": sig, "X-Fengqiao-Timestamp": "1742774400"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def receiver(lake):
    server = serve_acknowledgements("127.0.0.1", 0, lake, KEY, background=True)
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/ack"
    server.shutdown()
    server.server_close()


def test_webhook_ack_checks_the_signature_and_stores_once(lake, receiver):
    ack = {"alert_id": ALERT_ORANGE, "disposition": "已处置", "disposed_at": "2025-03-28T15:30:00+08:00",
           "note": "已约谈开发商，当事人张伟反映已收到部分欠款，电话13812345678"}

    assert _post(receiver, ack, key="wrong-key")[0] == 401
    assert _post(receiver, ack, signature="sha256=" + "0" * 64)[0] == 401
    assert not lake.gold("alert_dispositions").exists()                       # nothing stored

    assert _post(receiver, ack) == (200, {"status": "stored", "alert_id": ALERT_ORANGE})
    assert _post(receiver, ack) == (200, {"status": "duplicate", "alert_id": ALERT_ORANGE})
    status, answer = _post(receiver, {**ack, "alert_id": UNKNOWN})
    assert status == 422 and "unknown alert_id" in answer["error"]
    assert _post(receiver, b"not json")[0] == 400
    assert _post(receiver.replace("/ack", "/other"), ack)[0] == 404

    stored = read_table(lake.gold("alert_dispositions"))
    assert len(stored) == 1
    row = stored.iloc[0]
    assert (row["alert_id"], row["disposition"], row["disposition_zh"], row["received_via"]) == \
        (ALERT_ORANGE, "handled", "已处置", "webhook")
    assert row["region_code"] == GANSHIQIAO and "张伟" not in row["note_masked"] and "[电话]" in row["note_masked"]


def test_receiver_needs_a_key(lake):
    with pytest.raises(ValueError, match="FENGQIAO_WEBHOOK_KEY"):
        serve_acknowledgements("127.0.0.1", 0, lake, "", background=True)


def test_alert_reference_is_forgiving_about_case_and_dashes():
    assert normalise_alert_id(" 5ad3 1e36 5e1f 414d 53c5 ") == "5AD3-1E36-5E1F-414D-53C5"


def test_response_rates_per_county(lake, receiver):
    _drop(lake.root / "inbox" / "dispositions", "d.csv",
          "alert_id,disposition,disposed_at,note\n"
          f"{ALERT_RED},confirmed,2025-03-26T08:01:00+08:00,\n"     # 2 days after the first sent row (08:01)
          f"{ALERT_RED},handled,2025-04-02T08:01:00+08:00,\n")      # a later disposition: not the response time
    ingest_dispositions.run(lake)
    _post(receiver, {"alert_id": ALERT_ORANGE, "disposition": "dismissed", "disposed_at": "2025-03-28T08:00:00+08:00"})

    rates = response_rates(lake).set_index("county_code")

    assert list(rates.index) == [LIXIA, SHIZHONG]
    assert rates.loc[LIXIA, "county_name"] == "历下区" and rates.loc[SHIZHONG, "county_name"] == "市中区"
    assert rates.loc[LIXIA, ["alerts_sent", "acknowledged"]].tolist() == [1, 1]         # ALERT_FAILED not counted
    assert rates.loc[LIXIA, "ack_share"] == 1.0 and rates.loc[LIXIA, "median_days_to_respond"] == 2.0
    assert rates.loc[SHIZHONG, ["alerts_sent", "acknowledged"]].tolist() == [2, 1]
    assert rates.loc[SHIZHONG, "ack_share"] == 0.5 and rates.loc[SHIZHONG, "median_days_to_respond"] == 4.0
    assert response_rates(lake, WEEK)["alerts_sent"].sum() == 3
    assert response_rates(lake, "2025-03-10").empty
