"""Alerts: routing to bureaus, real SMTP delivery to the local sink, signed webhooks to a local HTTP
server, gold/alerts, idempotence, failures and retries with back-off, the cool-down."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

import fengqiao.delivery.alert_plan as alert_plan_module
from fengqiao.lake import read_table, write_table
from fengqiao.core.bureaus import Bureau
from fengqiao.delivery.alert_channels import ALERT_COLUMNS
from fengqiao.delivery.alert_history import apply_cooldown
from fengqiao.delivery.alert_plan import plan_alerts
from fengqiao.delivery.mailsink import local_mail_sink
from fengqiao.delivery.webhooks import DeliveryOptions, public_url
from fengqiao.core.regions import county_of, read_bureaus, read_regions
from fengqiao.core.settings import Settings
from jobs.outputs import alerts as output_alerts
from jobs.outputs.alerts import deliver_alerts, send_alerts
from outputs_lake import (
    BUREAUS, GANSHIQIAO, JIEFANGLU, LIXIA, PLANTED_PERSONAL, QIANFOSHAN, RED_REASONS, SHIZHONG, WEEK,
    build_tiny_lake,
)

WEBHOOK_KEY = "test-webhook-key"

# region flagged in the tiny lake's latest week -> (expected recipient address, subject)
EXPECTED = {
    JIEFANGLU: ("jiefanglu-sfs@example.cn", "【红色预警】历下区解放路街道矛盾纠纷风险提示（2025年第12周）"),  # own 司法所
    GANSHIQIAO: ("shizhong-sfj@example.cn", "【橙色预警】市中区杆石桥街道矛盾纠纷风险提示（2025年第12周）"),  # no 司法所 listed
    SHIZHONG: ("shizhong-sfj@example.cn", "【黄色预警】市中区矛盾纠纷风险提示（2025年第12周）"),  # county region
}
BUREAU_COUNTY = {email_: county_of(code) for code, (_, email_) in BUREAUS.items()}


@pytest.fixture
def lake(tmp_path):
    return build_tiny_lake(tmp_path / "lake")


@pytest.fixture(autouse=True)
def delivery_env(monkeypatch):
    """Tiny back-off delays, default cool-down and attempts, a known webhook key."""
    monkeypatch.setenv("FENGQIAO_ALERT_RETRY_DELAY_SECONDS", "0.01")
    for name in ("FENGQIAO_ALERT_COOLDOWN_WEEKS", "FENGQIAO_ALERT_RETRY_ATTEMPTS", "FENGQIAO_WEBHOOK_TIMEOUT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FENGQIAO_WEBHOOK_KEY", WEBHOOK_KEY)


@pytest.fixture
def smtp_env(monkeypatch):
    for name in ("FENGQIAO_SMTP_USER", "FENGQIAO_SMTP_PASSWORD", "FENGQIAO_SMTP_STARTTLS", "FENGQIAO_SMTP_SENDER"):
        monkeypatch.delenv(name, raising=False)

    def point_at(host: str, port: int) -> None:
        monkeypatch.setenv("FENGQIAO_SMTP_HOST", host)
        monkeypatch.setenv("FENGQIAO_SMTP_PORT", str(port))
    return point_at


def _inputs(lake):
    scores = read_table(lake.gold("risk_scores"))
    return (scores[scores["week_start"] == WEEK], read_bureaus(lake.reference / "bureaus.csv"),
            read_regions(lake.reference / "regions.csv"), read_table(lake.gold("region_week_features")))


def _messages(folder):
    out = []
    for path in sorted(folder.glob("*.eml")):
        out.append((path, email.message_from_bytes(path.read_bytes(), policy=email.policy.default)))
    return out


def test_plan_routes_each_flagged_region_to_its_own_bureau(lake):
    scores_week, bureaus, regions, features = _inputs(lake)

    planned = plan_alerts(scores_week, bureaus, regions, features)

    assert {a.region_code: (a.recipient_email, a.subject) for a in planned} == EXPECTED
    for a in planned:
        assert county_of(a.recipient_region_code) == county_of(a.region_code)
        assert f"回复确认编号：{a.ack_ref}" in a.body and a.alert_id not in a.body
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", a.ack_ref)                # 128 random bits, URL-safe
        assert re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){4}", a.alert_id)   # never mistaken for a region code
    red = next(a for a in planned if a.region_code == JIEFANGLU)
    assert red.recipient_unit == "解放路街道司法所" and red.risk_level == "红" and "82%" in red.body
    assert all(reason in red.body for reason in RED_REASONS)
    assert "3月10日当周 45件 → 3月17日当周 102件" in red.body          # 4-week trend line
    again = plan_alerts(scores_week, bureaus, regions, features)
    assert [a.alert_id for a in again] == [a.alert_id for a in planned]  # deterministic ids (re-run key)
    assert not {a.ack_ref for a in again} & {a.ack_ref for a in planned}  # references are random, not derived
    assert len({a.alert_id for a in planned}) == len(planned)


def test_a_flagged_city_or_province_is_not_alerted(lake):
    """Alerts go to 司法所 and 司法局 (townships, counties); a city's or the province's flag repeats theirs."""
    scores_week, bureaus, regions, features = _inputs(lake)
    above = scores_week.head(2).assign(region_code=["370100000000", "370000000000"], level=["city", "province"],
                                       flagged=True, risk_level="红", score=0.99)
    planned = plan_alerts(pd.concat([scores_week, above], ignore_index=True), bureaus, regions, features)
    assert {a.region_code: (a.recipient_email, a.subject) for a in planned} == EXPECTED


def test_plan_refuses_a_bureau_of_another_county(lake, monkeypatch):
    scores_week, bureaus, regions, features = _inputs(lake)
    monkeypatch.setattr(alert_plan_module, "route",
                        lambda code, index: Bureau(LIXIA, "历下区司法局", "lixia-sfj@example.cn"))
    planned = {a.region_code: a for a in plan_alerts(scores_week, bureaus, regions, features)}
    assert planned[JIEFANGLU].problem == ""                                      # 历下区's own township
    for code in (GANSHIQIAO, SHIZHONG):                                          # 市中区's: never to 历下区
        assert "another county" in planned[code].problem and planned[code].recipient_email == ""


def test_alerts_are_mailed_recorded_and_not_sent_twice(lake, tmp_path, smtp_env):
    mail = tmp_path / "mail"
    with local_mail_sink(mail) as (host, port):
        smtp_env(host, port)
        first = output_alerts.run(lake, Settings.from_env())
        second = output_alerts.run(lake, Settings.from_env())

    assert first == {"week_start": "2025-03-17", "planned": 3, "suppressed_cooldown": 0, "sent": 3, "failed": 0,
                     "failed_attempts": 0, "skipped": 0, "by_channel": {"email": {"sent": 3, "failed": 0}},
                     "suppressed": [], "bureau_rows_skipped": 0, "bureau_problems": []}
    assert second == {"week_start": "2025-03-17", "planned": 3, "suppressed_cooldown": 0, "sent": 0, "failed": 0,
                      "failed_attempts": 0, "skipped": 3, "by_channel": {}, "suppressed": [],
                      "bureau_rows_skipped": 0, "bureau_problems": []}

    messages = _messages(mail)
    assert len(messages) == 3                                            # one per flagged region, none resent
    recorded = read_table(lake.gold("alerts"))
    refs = dict(zip(recorded["alert_id"], recorded["ack_ref"]))
    seen = {}
    for path, msg in messages:
        region = msg["X-Fengqiao-Region-Code"]
        address = msg["To"].addresses[0].addr_spec
        assert path.name.endswith(f"-{address}.eml")
        assert region not in seen
        seen[region] = (address, str(msg["Subject"]))
        assert BUREAU_COUNTY[address] == county_of(region)                # never another county's region
        assert re.search(rb"^Subject: =\?utf-8\?", path.read_bytes(), re.M | re.I)  # RFC 2047 on the wire
        body = msg.get_content()
        assert f"回复确认编号：{refs[msg['X-Fengqiao-Alert-Id']]}" in body           # the stored reference
        assert not any(p in body for p in PLANTED_PERSONAL)
    assert seen == EXPECTED

    assert set(recorded.columns) == set(ALERT_COLUMNS)
    assert len(recorded) == 3 and (recorded["status"] == "sent").all() and (recorded["channel"] == "email").all()
    assert set(recorded["region_code"]) == set(EXPECTED)
    assert (recorded["week_start"] == WEEK).all()


def test_unreachable_server_records_failures_then_a_rerun_delivers(lake, tmp_path, smtp_env):
    with socket.socket() as s:                 # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    smtp_env("127.0.0.1", dead_port)

    counts = output_alerts.run(lake, Settings.from_env())

    # The first delivery tries 3 times with back-off; the server stays down, so the other two fail at once.
    assert counts["failed"] == 3 and counts["sent"] == 0 and counts["failed_attempts"] == 5
    recorded = read_table(lake.gold("alerts"))
    assert len(recorded) == 5 and (recorded["status"] == "failed").all()
    assert recorded["detail"].str.contains("unavailable").all()
    assert recorded["detail"].str.contains("attempt 3/3").sum() == 1
    assert recorded["detail"].str.startswith("not attempted").sum() == 2

    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        retry = output_alerts.run(lake, Settings.from_env())
    assert retry["sent"] == 3 and retry["skipped"] == 0
    recorded = read_table(lake.gold("alerts"))
    assert sorted(recorded["status"]) == ["failed"] * 5 + ["sent"] * 3


def test_a_region_without_bureau_fails_alone(lake, tmp_path, smtp_env):
    bureaus = read_bureaus(lake.reference / "bureaus.csv")
    bureaus[bureaus["region_code"] != SHIZHONG].to_csv(lake.reference / "bureaus.csv", index=False)
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        counts = output_alerts.run(lake, Settings.from_env())
    assert counts["sent"] == 1 and counts["failed"] == 2
    assert len(_messages(tmp_path / "mail")) == 1
    recorded = read_table(lake.gold("alerts")).set_index("region_code")
    assert recorded.loc[JIEFANGLU, "status"] == "sent"
    assert recorded.loc[GANSHIQIAO, "status"] == "failed" and "bureaus.csv" in recorded.loc[GANSHIQIAO, "detail"]


def test_send_returns_exactly_the_alerts_schema(lake, tmp_path, smtp_env):
    scores_week, bureaus, regions, features = _inputs(lake)
    planned = plan_alerts(scores_week, bureaus, regions, features)
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        attempts = send_alerts(planned, Settings.from_env(), lake)
    assert list(attempts.columns) == ALERT_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(attempts["sent_at"])


def test_no_smtp_host_is_a_clear_error(lake, monkeypatch):
    monkeypatch.delenv("FENGQIAO_SMTP_HOST", raising=False)
    with pytest.raises(RuntimeError, match="FENGQIAO_SMTP_HOST"):
        output_alerts.run(lake, Settings.from_env())


def test_mail_sink_is_loopback_only(tmp_path):
    with pytest.raises(ValueError, match="loopback"):
        with local_mail_sink(tmp_path, host="0.0.0.0"):
            pass


# --- webhooks -------------------------------------------------------------------------------------
class _Hook:
    """What a local webhook server received, and the statuses it answers with (then 200)."""

    def __init__(self, fail_with=()):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_with = list(fail_with)
        self.lock = threading.Lock()


@contextmanager
def webhook_server(fail_with=()):
    hook = _Hook(fail_with)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with hook.lock:
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = hook.fail_with.pop(0) if hook.fail_with else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/fengqiao/hook?access_token=SECRET-TOKEN"
    finally:
        server.shutdown()
        server.server_close()


def _give_webhook(lake, region_code, url):
    bureaus = read_bureaus(lake.reference / "bureaus.csv")
    bureaus.loc[bureaus["region_code"] == region_code, "webhook_url"] = url
    bureaus.to_csv(lake.reference / "bureaus.csv", index=False)


def test_webhook_is_signed_json_received_by_a_local_server(lake, tmp_path, smtp_env):
    with webhook_server() as (hook, url):
        _give_webhook(lake, SHIZHONG, url)          # 市中区司法局: receives 杆石桥街道 and 市中区
        with local_mail_sink(tmp_path / "mail") as (host, port):
            smtp_env(host, port)
            first = output_alerts.run(lake, Settings.from_env())
            second = output_alerts.run(lake, Settings.from_env())

    assert first["by_channel"] == {"email": {"sent": 3, "failed": 0}, "webhook": {"sent": 2, "failed": 0}}
    assert second["sent"] == 0 and second["skipped"] == 5 and len(hook.requests) == 2   # never resent
    assert len(_messages(tmp_path / "mail")) == 3                                    # e-mail still goes out
    payloads = {}
    for headers, body in hook.requests:
        expected = "sha256=" + hmac.new(WEBHOOK_KEY.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-fengqiao-signature"], expected)        # HMAC over the raw body
        assert abs(int(headers["x-fengqiao-timestamp"]) - dt.datetime.now().timestamp()) < 120
        assert headers["content-type"].startswith("application/json")
        payload = json.loads(body.decode("utf-8"))
        payloads[payload["region_code"]] = payload
        assert not any(p in body.decode("utf-8") for p in PLANTED_PERSONAL)
    assert set(payloads) == {GANSHIQIAO, SHIZHONG}
    orange = payloads[GANSHIQIAO]
    assert {"alert_id", "region_code", "region_name", "county_code", "week_start", "risk_level", "score", "reasons",
            "trend", "acknowledge_ref"} <= set(orange)
    assert orange["region_name"] == "杆石桥街道" and orange["county_code"] == SHIZHONG
    assert orange["week_start"] == "2025-03-17" and orange["risk_level"] == "橙" and orange["score"] == 0.56
    assert orange["reasons"] == ["物业纠纷记录为近8周均值的2.1倍", "退回工单5件"]
    assert [p["week_start"] for p in orange["trend"]] == ["2025-02-24", "2025-03-03", "2025-03-10", "2025-03-17"]
    assert all(isinstance(p["total_contacts"], int) for p in orange["trend"])
    assert orange["acknowledge_ref"] != orange["alert_id"]
    assert "杆石桥街道" in orange["title"] and orange["suggestion"].startswith("请会同")

    recorded = read_table(lake.gold("alerts"))
    web = recorded[recorded["channel"] == "webhook"]
    assert len(web) == 2 and (web["status"] == "sent").all()
    assert set(web["alert_id"]) == {p["alert_id"] for p in payloads.values()}
    refs = recorded.groupby("alert_id")["ack_ref"].agg(set)
    assert all(refs[p["alert_id"]] == {p["acknowledge_ref"]} for p in payloads.values())  # one ref, both channels
    assert not recorded["recipient_address"].fillna("").str.contains("SECRET-TOKEN").any()  # token not kept
    assert public_url(url) in set(web["recipient_address"])


def test_webhook_without_key_is_recorded_failed_and_not_sent(lake, tmp_path, smtp_env, monkeypatch):
    monkeypatch.delenv("FENGQIAO_WEBHOOK_KEY")
    with webhook_server() as (hook, url):
        _give_webhook(lake, SHIZHONG, url)
        with local_mail_sink(tmp_path / "mail") as (host, port):
            smtp_env(host, port)
            counts = output_alerts.run(lake, Settings.from_env())
    assert hook.requests == []
    assert counts["by_channel"]["webhook"] == {"sent": 0, "failed": 2} and counts["failed_attempts"] == 2
    web = read_table(lake.gold("alerts")).query("channel == 'webhook'")
    assert web["detail"].str.contains("FENGQIAO_WEBHOOK_KEY").all()


def test_webhook_failing_twice_then_succeeding_is_retried_with_backoff(lake, tmp_path, smtp_env):
    scores_week, bureaus, regions, features = _inputs(lake)
    delays = []
    with webhook_server(fail_with=[503, 502]) as (hook, url):
        bureaus.loc[bureaus["region_code"] == SHIZHONG, "webhook_url"] = url
        bureaus.loc[bureaus["region_code"] == SHIZHONG, "email"] = ""      # this bureau: webhook only
        planned = [a for a in plan_alerts(scores_week, bureaus, regions, features) if a.region_code == SHIZHONG]
        report = deliver_alerts(planned, Settings.from_env(), lake, DeliveryOptions(retry_attempts=3, retry_base_delay=0.01),
                                sleep=delays.append)
    assert len(hook.requests) == 3 and delays == [0.01, 0.02]                  # exponential back-off
    assert report.sent == 1 and report.failed == 0 and report.failed_attempts == 2
    rows = read_table(lake.gold("alerts")).sort_values("sent_at")
    assert list(rows["channel"]) == ["webhook"] * 3                             # no e-mail row: webhook only
    assert list(rows["status"]) == ["failed", "failed", "sent"]
    assert rows["detail"].iloc[0].startswith("attempt 1/3") and "503" in rows["detail"].iloc[0]
    assert "502" in rows["detail"].iloc[1] and rows["detail"].iloc[2] == "delivered on attempt 3/3"
    assert rows["sent_at"].is_monotonic_increasing


def test_webhook_permanent_error_is_not_retried(lake):
    scores_week, bureaus, regions, features = _inputs(lake)
    with webhook_server(fail_with=[401]) as (hook, url):
        bureaus["webhook_url"] = url
        bureaus["email"] = ""
        planned = plan_alerts(scores_week, bureaus, regions, features)[:1]
        report = deliver_alerts(planned, Settings.from_env(), lake, DeliveryOptions(retry_base_delay=0.01))
    assert len(hook.requests) == 1 and report.failed == 1
    assert "HTTP 401" in read_table(lake.gold("alerts"))["detail"].iloc[0]


def test_smtp_failing_twice_then_succeeding_is_retried(lake, tmp_path, smtp_env):
    with local_mail_sink(tmp_path / "mail", fail_first=2) as (host, port):
        smtp_env(host, port)
        counts = output_alerts.run(lake, Settings.from_env())
        again = output_alerts.run(lake, Settings.from_env())
    assert counts["sent"] == 3 and counts["failed"] == 0 and counts["failed_attempts"] == 2
    assert again["sent"] == 0 and again["skipped"] == 3 and again["failed_attempts"] == 0
    assert len(_messages(tmp_path / "mail")) == 3
    recorded = read_table(lake.gold("alerts")).sort_values("sent_at")
    first_id = recorded["alert_id"].iloc[0]
    mine = recorded[recorded["alert_id"] == first_id]
    assert list(mine["status"]) == ["failed", "failed", "sent"]
    assert mine["detail"].iloc[0].startswith("attempt 1/3: SMTPDataError: 451")
    assert (recorded.groupby("alert_id")["status"].apply(lambda s: (s == "sent").sum()) == 1).all()


# --- cool-down --------------------------------------------------------------------------------------
def _history_row(region, week, level, status="sent"):
    return {"alert_id": f"HIST-{region}-{week}", "region_code": region, "week_start": week, "risk_level": level,
            "recipient_unit": "某司法局", "channel": "email",
            "sent_at": pd.Timestamp(week, tz="UTC") + pd.Timedelta(days=8), "status": status, "recipient_address": "x@example.cn", "detail": None}


def _seed_history(lake, rows):
    df = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    df["sent_at"] = pd.to_datetime(df["sent_at"], utc=True)
    write_table(df, lake, "gold", "alerts")


def test_cooldown_suppresses_repeats_and_realerts_on_level_rise(lake, tmp_path, smtp_env):
    week = lambda n: WEEK - dt.timedelta(days=7 * n)  # noqa: E731
    _seed_history(lake, [
        _history_row(JIEFANGLU, week(2), "红"),              # same level 2 weeks ago: suppressed
        _history_row(GANSHIQIAO, week(1), "黄"),             # 黄 -> 橙: a rise, alerted again
        _history_row(SHIZHONG, week(4), "红"),               # 4 weeks ago: the cool-down is over
        _history_row(SHIZHONG, week(1), "红", "failed"),     # never delivered: does not count
    ])
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        counts = output_alerts.run(lake, Settings.from_env())
    assert counts["suppressed_cooldown"] == 1 and counts["sent"] == 2
    [decision] = counts["suppressed"]
    assert decision["region_code"] == JIEFANGLU and decision["last_alert_week"] == week(2).isoformat()
    assert decision["last_risk_level"] == "红" and "cool-down" in decision["reason"]
    regions = {m["X-Fengqiao-Region-Code"] for _, m in _messages(tmp_path / "mail")}
    assert regions == {GANSHIQIAO, SHIZHONG}                                    # the suppressed one is not sent
    recorded = read_table(lake.gold("alerts"))
    assert not ((recorded["region_code"] == JIEFANGLU) & (recorded["week_start"] == WEEK)).any()


def test_cooldown_rules_and_setting(lake, tmp_path, smtp_env, monkeypatch):
    scores_week, bureaus, regions, features = _inputs(lake)
    planned = plan_alerts(scores_week, bureaus, regions, features)      # 红 解放路, 橙 杆石桥, 黄 市中区
    week = lambda n: WEEK - dt.timedelta(days=7 * n)  # noqa: E731
    history = pd.DataFrame([_history_row(JIEFANGLU, week(3), "红"), _history_row(GANSHIQIAO, week(1), "红"),
                            _history_row(GANSHIQIAO, week(2), "蓝"), _history_row(SHIZHONG, week(1), None),
                            _history_row(QIANFOSHAN, week(1), "红")], columns=ALERT_COLUMNS)
    keep, suppressed = apply_cooldown(planned, history, cooldown_weeks=4)
    assert {a.region_code for a in keep} == {SHIZHONG}                 # no colour before -> 黄 is a rise
    assert {d["region_code"] for d in suppressed} == {JIEFANGLU, GANSHIQIAO}
    assert next(d for d in suppressed if d["region_code"] == GANSHIQIAO)["highest_level_in_cooldown"] == "红"
    keep, _ = apply_cooldown(planned, history, cooldown_weeks=3)       # 解放路 alerted 3 weeks ago: free again
    assert {a.region_code for a in keep} == {SHIZHONG, JIEFANGLU}
    assert len(apply_cooldown(planned, history, cooldown_weeks=0)[0]) == 3

    _seed_history(lake, list(history.to_dict("records")))
    monkeypatch.setenv("FENGQIAO_ALERT_COOLDOWN_WEEKS", "0")           # the setting turns it off
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        counts = output_alerts.run(lake, Settings.from_env())
    assert counts["suppressed_cooldown"] == 0 and counts["sent"] == 3


def test_an_alerts_table_from_before_references_is_read_and_extended(lake, tmp_path, smtp_env):
    """A gold/alerts written before ``ack_ref`` existed: its sent alerts are not resent, new ones get a reference."""
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        output_alerts.run(lake, Settings.from_env())
        old = read_table(lake.gold("alerts"))
        sent_before = old[old["region_code"] == JIEFANGLU].drop(columns=["ack_ref"])
        write_table(sent_before, lake, "gold", "alerts")                    # the old schema, one alert sent
        counts = output_alerts.run(lake, Settings.from_env())
    # The two alerts whose rows were dropped are sent again (3 + 2 messages); the recorded one is not.
    assert counts["skipped"] == 1 and counts["sent"] == 2 and len(_messages(tmp_path / "mail")) == 5
    recorded = read_table(lake.gold("alerts")).set_index("region_code")
    assert pd.isna(recorded.loc[JIEFANGLU, "ack_ref"])                         # the old row as it was
    assert recorded.loc[[GANSHIQIAO, SHIZHONG], "ack_ref"].str.fullmatch(r"[A-Za-z0-9_-]{22}").all()
