"""One bad row never stops the alert stage: a bad bureaus.csv row is reported with its line and skipped, a
header injection is neutralised or refused, a refused address or a failing webhook fails that delivery
alone; the other alerts go out and are recorded, and a re-run does not resend what was delivered."""
from __future__ import annotations

import dataclasses
import email
import email.policy
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from fengqiao.lake import read_table
from fengqiao.delivery.alert_plan import plan_alerts
from fengqiao.delivery.bureau_keys import issue_key
from fengqiao.delivery.mailsink import local_mail_sink
from fengqiao.delivery.webhooks import DeliveryOptions
from fengqiao.core.regions import read_regions
from fengqiao.app.report import delivery_counts
from fengqiao.core.settings import Settings
from jobs.outputs import alerts as output_alerts
from jobs.outputs.alerts import deliver_alerts
from outputs_lake import GANSHIQIAO, JIEFANGLU, LIXIA, SHIZHONG, WEEK, build_tiny_lake

EVIL = "attacker@evil.example"
FAST = DeliveryOptions(retry_attempts=2, retry_base_delay=0.0)


@pytest.fixture
def lake(tmp_path, monkeypatch):
    for name in ("FENGQIAO_SMTP_USER", "FENGQIAO_SMTP_PASSWORD", "FENGQIAO_SMTP_STARTTLS", "FENGQIAO_SMTP_SSL",
                 "FENGQIAO_ALERT_COOLDOWN_WEEKS", "FENGQIAO_ALERT_RETRY_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FENGQIAO_ALERT_RETRY_DELAY_SECONDS", "0")
    monkeypatch.setenv("FENGQIAO_WEBHOOK_KEY", "alert-signing-key-of-the-province")
    monkeypatch.setenv("FENGQIAO_BUREAU_KEYS", str(tmp_path / "secrets" / "bureau_keys.csv"))
    return build_tiny_lake(tmp_path / "lake", with_quarantine=False, with_manifest=False)


@pytest.fixture
def sink(tmp_path, monkeypatch):
    with local_mail_sink(tmp_path / "mail") as (host, port):
        monkeypatch.setenv("FENGQIAO_SMTP_HOST", host)
        monkeypatch.setenv("FENGQIAO_SMTP_PORT", str(port))
        yield tmp_path / "mail"


def _mails(folder):
    """(file name, parsed message, raw bytes) per message file (one per envelope recipient)."""
    return [(p.name, email.message_from_bytes(p.read_bytes(), policy=email.policy.default), p.read_bytes())
            for p in sorted(folder.glob("*.eml"))]


def _write_bureaus(lake, text):
    (lake.reference / "bureaus.csv").write_bytes(text.encode("utf-8"))


@contextmanager
def hook_server(status=200):
    """A loopback webhook that answers every POST with ``status``; yields (received bodies, url)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_bad_bureau_rows_are_reported_and_skipped_the_good_ones_used(lake, sink):
    _write_bureaus(lake, "region_code,unit_name,email,webhook_url,county_code\n"
                   f"{LIXIA},历下区司法局,lixia-sfj@example.cn,,{LIXIA}\n"                       # line 2
                   f'{SHIZHONG},"市中区司法局\r\nBcc: {EVIL}",shizhong-sfj@example.cn,,\n'     # lines 3-4: CRLF
                   f'{JIEFANGLU},解放路街道司法所,"a@example.cn, b@example.cn",,\n'             # line 5: two addresses
                   f"{GANSHIQIAO},杆石桥街道司法所,gsq-sfs@example.cn,,{LIXIA}\n"             # line 6: 市中区 township
                   f"370103001000,大观园街道司法所,lixia-sfj@example.cn,,\n"                  # line 7: 历下区's address
                   f"370102002000,千佛山街道司法所,qfs-sfs@example.cn,http://hooks.example.com/q,\n")  # line 8

    counts = output_alerts.run(lake, Settings.from_env())

    problems = {p["line"]: p["reason"] for p in counts["bureau_problems"]}
    assert set(problems) == {3, 5, 6, 7, 8} and counts["bureau_rows_skipped"] == 5
    assert "line break" in problems[3]
    assert "more than one address" in problems[5]
    assert "belongs to county 370103000000" in problems[6] and "another county" in problems[6]
    assert "already receives the alerts of county 370102000000" in problems[7]
    assert "plain http" in problems[8]
    # 解放路街道's office row was refused, so its alert goes to 历下区司法局 (line 2); 市中区 has no usable
    # bureau left: its two alerts are recorded as failed, not sent anywhere else.
    assert counts["sent"] == 1 and counts["failed"] == 2
    [(name, msg, raw)] = _mails(sink)
    assert name.endswith("lixia-sfj@example.cn.eml") and msg["X-Fengqiao-Region-Code"] == JIEFANGLU
    assert EVIL.encode() not in raw and b"a@example.cn" not in raw
    recorded = read_table(lake.gold("alerts")).set_index("region_code")
    assert recorded.loc[JIEFANGLU, "status"] == "sent"
    assert (recorded.loc[[GANSHIQIAO, SHIZHONG], "status"] == "failed").all()


def test_crlf_in_a_township_name_cannot_add_a_header(lake, sink):
    regions = read_regions(lake.reference / "regions.csv")
    regions.loc[regions["code"] == JIEFANGLU, "name"] = f"解放路街道\r\nBcc: {EVIL}\r\nX-Injected: 1"
    regions.to_csv(lake.reference / "regions.csv", index=False)

    counts = output_alerts.run(lake, Settings.from_env())

    assert counts["sent"] == 3 and counts["failed"] == 0
    mails = _mails(sink)
    assert len(mails) == 3 and not any(EVIL in name for name, _, _ in mails)   # never an extra recipient
    red = next(msg for _, msg, _ in mails if msg["X-Fengqiao-Region-Code"] == JIEFANGLU)
    assert red["Bcc"] is None and red["X-Injected"] is None
    assert "\n" not in str(red["Subject"]) and "解放路街道 Bcc" in str(red["Subject"])


def test_a_bad_address_or_subject_fails_alone_and_a_rerun_sends_nothing_twice(lake, sink):
    scores = read_table(lake.gold("risk_scores"))
    planned = plan_alerts(scores[scores["week_start"] == WEEK], pd.read_csv(lake.reference / "bureaus.csv",
                          dtype=str).fillna(""), read_regions(lake.reference / "regions.csv"))
    by_region = {a.region_code: a for a in planned}
    # Built by hand, past the bureaus.csv check: an address with a header in it and a subject with CRLF.
    by_region[JIEFANGLU] = dataclasses.replace(by_region[JIEFANGLU],
                                               recipient_email=f"jiefanglu-sfs@example.cn\r\nBcc: {EVIL}")
    by_region[SHIZHONG] = dataclasses.replace(by_region[SHIZHONG], subject=f"提示\r\nBcc: {EVIL}")

    first = deliver_alerts(list(by_region.values()), Settings.from_env(), lake, FAST)
    second = deliver_alerts(list(by_region.values()), Settings.from_env(), lake, FAST)

    assert (first.sent, first.failed) == (2, 1) and (second.sent, second.skipped, second.failed) == (0, 2, 1)
    mails = _mails(sink)
    assert len(mails) == 2 and not any(EVIL in name for name, _, _ in mails)          # none resent, no Bcc
    assert all(msg["Bcc"] is None for _, msg, _ in mails)
    county = next(msg for _, msg, _ in mails if msg["X-Fengqiao-Region-Code"] == SHIZHONG)
    assert str(county["Subject"]) == f"提示 Bcc: {EVIL}"                                 # one line: text, not a header
    recorded = read_table(lake.gold("alerts"))
    bad = recorded[recorded["region_code"] == JIEFANGLU]
    assert (bad["status"] == "failed").all() and bad["detail"].str.contains("recipient refused").all()
    assert not recorded["detail"].fillna("").str.contains("\n").any()
    assert set(recorded.loc[recorded["status"] == "sent", "region_code"]) == {GANSHIQIAO, SHIZHONG}


def test_http_webhook_to_a_public_host_is_refused_without_a_connection(lake, sink):
    scores = read_table(lake.gold("risk_scores"))
    planned = plan_alerts(scores[scores["week_start"] == WEEK], pd.read_csv(lake.reference / "bureaus.csv",
                          dtype=str).fillna(""), read_regions(lake.reference / "regions.csv"))
    planned = [dataclasses.replace(a, recipient_webhook="http://203.0.113.7/hook") if a.region_code == SHIZHONG
               else a for a in planned]

    report = deliver_alerts(planned, Settings.from_env(), lake, FAST)

    assert report.by_channel == {"email": {"sent": 3, "failed": 0}, "webhook": {"sent": 0, "failed": 1}}
    web = read_table(lake.gold("alerts")).query("channel == 'webhook'")
    assert len(web) == 1 and "plain http" in web["detail"].iloc[0]                # one row: never attempted


def test_a_failing_webhook_fails_alone_and_the_summary_does_not_count_it_delivered(lake, sink):
    with hook_server(status=500) as (received, url):
        _write_bureaus(lake, "region_code,unit_name,email,webhook_url\n"
                       f"{LIXIA},历下区司法局,lixia-sfj@example.cn,\n"
                       f"{SHIZHONG},市中区司法局,shizhong-sfj@example.cn,{url}\n"
                       f"{JIEFANGLU},解放路街道司法所,jiefanglu-sfs@example.cn,\n")
        first = output_alerts.run(lake, Settings.from_env())
        second = output_alerts.run(lake, Settings.from_env())

    assert first["by_channel"] == {"email": {"sent": 3, "failed": 0}, "webhook": {"sent": 0, "failed": 2}}
    assert second["sent"] == 0 and second["skipped"] == 3 and second["failed"] == 2   # only webhooks retried
    assert len(_mails(sink)) == 3 and len(received) == 4 * 3                         # 3 attempts × 2 × 2 runs
    alerts = read_table(lake.gold("alerts"))
    # 解放路街道: e-mail only, delivered; 杆石桥街道 and 市中区: e-mail sent but webhook failed.
    assert delivery_counts(alerts) == (1, 2, 0)


def test_smtp_credentials_are_never_sent_in_clear(lake, sink, monkeypatch):
    monkeypatch.setenv("FENGQIAO_SMTP_USER", "fengqiao")
    monkeypatch.setenv("FENGQIAO_SMTP_PASSWORD", "secret-password")
    with hook_server() as (received, url):
        _write_bureaus(lake, "region_code,unit_name,email,webhook_url\n"
                       f"{LIXIA},历下区司法局,lixia-sfj@example.cn,\n"
                       f"{SHIZHONG},市中区司法局,shizhong-sfj@example.cn,{url}\n")
        counts = output_alerts.run(lake, Settings.from_env())

    assert counts["by_channel"] == {"email": {"sent": 0, "failed": 3}, "webhook": {"sent": 2, "failed": 0}}
    assert _mails(sink) == [] and len(received) == 2                     # webhooks still go out
    email_rows = read_table(lake.gold("alerts")).query("channel == 'email'")
    assert email_rows["detail"].str.contains("credentials are never sent in clear").all()
    assert not email_rows["detail"].str.contains("secret-password").any()

    # STARTTLS asked for but not offered by the server: an error, never a fall-back to a clear login.
    monkeypatch.setenv("FENGQIAO_SMTP_STARTTLS", "true")
    again = output_alerts.run(lake, Settings.from_env())
    assert again["by_channel"]["email"] == {"sent": 0, "failed": 3} and _mails(sink) == []
    assert "STARTTLS" in read_table(lake.gold("alerts")).query("channel == 'email'")["detail"].iloc[-1]


def test_a_bureau_key_never_signs_alerts(lake, sink, monkeypatch, tmp_path):
    key = issue_key(SHIZHONG, Settings.from_env().bureau_keys_file)
    monkeypatch.setenv("FENGQIAO_WEBHOOK_KEY", key.key)
    with hook_server() as (received, url):
        _write_bureaus(lake, "region_code,unit_name,email,webhook_url\n"
                       f"{SHIZHONG},市中区司法局,shizhong-sfj@example.cn,{url}\n")
        counts = output_alerts.run(lake, Settings.from_env())
    assert received == [] and counts["by_channel"]["webhook"] == {"sent": 0, "failed": 2}
    assert counts["by_channel"]["email"] == {"sent": 2, "failed": 1}        # 解放路街道: 历下区 has no bureau
    web = read_table(lake.gold("alerts")).query("channel == 'webhook'")
    assert web["detail"].str.contains("also a bureau's key").all()
