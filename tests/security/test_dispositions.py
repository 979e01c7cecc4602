"""Dispositions are authentic: only a bureau's own key, for alerts of its own county, within ±5 minutes,
once, quoting the random reference of the alert it received; anything else is refused, and files without
a valid signature are held for review and never become training labels.

The alerts are really sent (tiny lake -> local mail sink); the bureau reads its 回复确认编号 from the mail."""
from __future__ import annotations

import email
import email.policy
import os
import re
import stat
import time

import pytest

from ack_client import drop_file, post, send, signed_request
from fengqiao.lake import read_table
from fengqiao.delivery.ack_receiver import ReplayLedger
from fengqiao.delivery.alert_plan import alert_id_of
from fengqiao.delivery.bureau_keys import KeyFileError, issue_key, load_keys, revoke_key
from fengqiao.delivery.mailsink import local_mail_sink
from fengqiao.core.settings import Settings
from jobs.gold import alert_dispositions as ingest_dispositions
from jobs.gold.ack_receiver import ledger_path, serve_acknowledgements
from jobs.gold.alert_dispositions import held_dispositions, read_dispositions
from jobs.outputs import alerts as output_alerts
from models.lifecycle import feedback_labels
from outputs_lake import GANSHIQIAO, JIEFANGLU, LIXIA, SHIZHONG, WEEK, build_tiny_lake

HEADER = "alert_id,disposition,disposed_at,note\n"


@pytest.fixture
def keys(tmp_path, monkeypatch):
    path = tmp_path / "secrets" / "bureau_keys.csv"
    monkeypatch.setenv("FENGQIAO_BUREAU_KEYS", str(path))
    monkeypatch.setenv("FENGQIAO_WEBHOOK_KEY", "alert-signing-key-of-the-province")
    monkeypatch.delenv("FENGQIAO_DISPOSITIONS_DIR", raising=False)
    return {"jiefanglu": issue_key(JIEFANGLU, path), "lixia": issue_key(LIXIA, path),
            "shizhong": issue_key(SHIZHONG, path)}


@pytest.fixture
def sent(tmp_path, monkeypatch, keys):
    """A lake whose three alerts were mailed; returns (lake, {region_code: reference read from the mail})."""
    lake = build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)
    for name in ("FENGQIAO_SMTP_USER", "FENGQIAO_SMTP_PASSWORD", "FENGQIAO_SMTP_STARTTLS", "FENGQIAO_SMTP_SSL"):
        monkeypatch.delenv(name, raising=False)
    with local_mail_sink(tmp_path / "mail") as (host, port):
        monkeypatch.setenv("FENGQIAO_SMTP_HOST", host)
        monkeypatch.setenv("FENGQIAO_SMTP_PORT", str(port))
        assert output_alerts.run(lake, Settings.from_env())["sent"] == 3
    refs = {}
    for path in (tmp_path / "mail").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        refs[msg["X-Fengqiao-Region-Code"]] = re.search(r"回复确认编号：(\S+)", msg.get_content()).group(1)
    return lake, refs


@pytest.fixture
def receiver(sent):
    lake, _ = sent
    server = serve_acknowledgements("127.0.0.1", 0, lake, background=True)
    yield f"http://127.0.0.1:{server.server_address[1]}/ack"
    server.shutdown()
    server.server_close()


def _ack(ref, disposition="已核实"):
    return {"alert_id": ref, "disposition": disposition, "disposed_at": "2025-03-26T09:00:00+08:00", "note": "已核实"}


def _stored(lake):
    return read_dispositions(lake)


def test_a_signed_answer_of_the_right_bureau_is_stored(sent, keys, receiver):
    lake, refs = sent
    office = keys["jiefanglu"]
    assert post(receiver, _ack(refs[JIEFANGLU]), office.key_id, office.key)[0] == 200
    stored = _stored(lake)
    assert list(stored["region_code"]) == [JIEFANGLU] and list(stored["key_id"]) == [office.key_id]


def test_forged_signature_is_refused(sent, keys, receiver):
    lake, refs = sent
    office = keys["jiefanglu"]
    assert post(receiver, _ack(refs[JIEFANGLU]), office.key_id, "a-key-the-forger-made-up-" + "0" * 40)[0] == 401
    request = signed_request(receiver, _ack(refs[JIEFANGLU], "已核实"), office.key_id, office.key)
    request.data = request.data.replace("已核实".encode(), "已排除".encode())   # body altered after signing
    request.headers["Content-length"] = str(len(request.data))
    status, answer = send(request)
    assert status == 401 and "invalid X-Fengqiao-Signature" in answer["error"]
    assert _stored(lake).empty


def test_another_bureaus_key_is_refused(sent, keys, receiver):
    lake, refs = sent
    # 市中区's key id, signed with 历下区's key: neither bureau can pass for the other.
    assert post(receiver, _ack(refs[GANSHIQIAO]), keys["shizhong"].key_id, keys["lixia"].key)[0] == 401
    revoke_key(keys["shizhong"].key_id, os.environ["FENGQIAO_BUREAU_KEYS"])                                        # a revoked key: refused at once
    assert post(receiver, _ack(refs[GANSHIQIAO]), keys["shizhong"].key_id, keys["shizhong"].key)[0] == 401
    assert _stored(lake).empty


def test_a_bureau_cannot_answer_another_countys_alert(sent, keys, receiver):
    lake, refs = sent
    for bureau in (keys["lixia"], keys["jiefanglu"]):        # 历下区's bureau and its township office
        for region in (GANSHIQIAO, SHIZHONG):                 # 市中区's township and county alerts
            status, answer = post(receiver, _ack(refs[region]), bureau.key_id, bureau.key)
            assert status == 403 and "cannot answer an alert of county 370103000000" in answer["error"]
    assert _stored(lake).empty
    # 历下区司法局 may answer its township's alert (sent to the 司法所): township alerts belong to the county.
    assert post(receiver, _ack(refs[JIEFANGLU]), keys["lixia"].key_id, keys["lixia"].key)[0] == 200


def test_stale_or_future_timestamp_is_refused(sent, keys, receiver):
    lake, refs = sent
    office = keys["jiefanglu"]
    for offset in (-360, 360):                                                  # 6 minutes either way
        status, answer = post(receiver, _ack(refs[JIEFANGLU]), office.key_id, office.key,
                              timestamp=int(time.time()) + offset)
        assert status == 401 and "5 minutes" in answer["error"]
    assert _stored(lake).empty
    assert post(receiver, _ack(refs[JIEFANGLU]), office.key_id, office.key, timestamp=int(time.time()) - 240)[0] == 200


def test_replay_is_refused_also_after_a_restart(sent, keys):
    lake, refs = sent
    office = keys["jiefanglu"]
    server = serve_acknowledgements("127.0.0.1", 0, lake, background=True)
    url = f"http://127.0.0.1:{server.server_address[1]}/ack"
    request = signed_request(url, _ack(refs[JIEFANGLU]), office.key_id, office.key)
    assert send(request)[0] == 200
    status, answer = send(request)
    assert status == 409 and "replayed" in answer["error"]
    server.shutdown()
    server.server_close()

    restarted = serve_acknowledgements("127.0.0.1", 0, lake, background=True)   # a new process reads the ledger
    try:
        request.full_url = f"http://127.0.0.1:{restarted.server_address[1]}/ack"
        assert send(request)[0] == 409
    finally:
        restarted.shutdown()
        restarted.server_close()
    signature = request.headers["X-fengqiao-signature"]
    assert not ReplayLedger(ledger_path(lake)).first_use(signature, int(time.time()), time.time())
    assert len(_stored(lake)) == 1


def test_a_reference_cannot_be_computed_from_public_facts(sent, keys, receiver):
    lake, refs = sent
    bureau = keys["shizhong"]
    # Region, week and the bureau's address are public (bureaus.csv, the briefing): the old id is derivable.
    guessed = alert_id_of(GANSHIQIAO, WEEK, "shizhong-sfj@example.cn")
    assert guessed in set(read_table(lake.gold("alerts"))["alert_id"])      # it is the alert's internal id …
    status, answer = post(receiver, _ack(guessed), bureau.key_id, bureau.key)
    assert status == 422 and "unknown alert_id" in answer["error"]           # … but not a reference
    assert refs[GANSHIQIAO] != guessed and len(refs[GANSHIQIAO]) == 22
    assert _stored(lake).empty


def test_unsigned_or_badly_signed_files_are_held_and_never_labels(sent, keys):
    lake, refs = sent
    inbox = lake.root / "inbox" / "dispositions"
    office = keys["jiefanglu"]
    text = HEADER + f"{refs[JIEFANGLU]},已核实,2025-03-26,联系人张建国，电话13812345678\n"
    drop_file(inbox, "unsigned.csv", text)
    forged = drop_file(inbox, "forged.csv", text, office.key_id, office.key)
    forged.write_bytes(forged.read_bytes().replace("已核实".encode(), "已排除".encode()))  # altered after signing
    drop_file(inbox, "stranger.csv", text, "0123456789ab", office.key)       # a key id nobody issued

    first = ingest_dispositions.run(lake, Settings.from_env())
    again = ingest_dispositions.run(lake, Settings.from_env())

    assert first["stored"] == 0 and first["held"] == 3 and again["held"] == 0   # held once, files kept
    assert {f["file"] for f in first["held_files"]} == {"unsigned.csv", "forged.csv", "stranger.csv"}
    held = held_dispositions(lake).set_index("file")
    assert "unsigned" in held.loc["unsigned.csv", "reason"]
    assert "does not match" in held.loc["forged.csv", "reason"]
    assert "unknown or revoked key" in held.loc["stranger.csv", "reason"]
    assert (held["line"] == 2).all() and not held["note_masked"].str.contains("13812345678|张建国").any()
    assert all((inbox / name).exists() for name in held.index)
    assert not lake.gold("alert_dispositions").exists()
    assert feedback_labels(read_dispositions(lake)).empty

    # The same answer, signed by the office: stored and, being verified, a training label.
    drop_file(inbox, "signed.csv", text, office.key_id, office.key)
    assert ingest_dispositions.run(lake, Settings.from_env())["stored"] == 1
    labels = feedback_labels(read_dispositions(lake))
    assert list(zip(labels["region_code"], labels["target"])) == [(JIEFANGLU, 1)]


def test_key_file_is_private_and_alert_signing_key_is_not_a_bureau_key(sent, keys, monkeypatch):
    lake, _ = sent
    key_file = os.environ["FENGQIAO_BUREAU_KEYS"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    monkeypatch.setenv("FENGQIAO_WEBHOOK_KEY", keys["lixia"].key)
    with pytest.raises(KeyFileError, match="alert signing key"):
        serve_acknowledgements("127.0.0.1", 0, lake, background=True)
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_keys(key_file)
