"""Alerts: routing to bureaus, real SMTP delivery to the local sink, gold/alerts, idempotence, failures."""
from __future__ import annotations

import email
import email.policy
import re
import socket

import pandas as pd
import pytest

import fengqiao.outputs.alerts as alerts_module
from fengqiao.lake import read_table
from fengqiao.outputs.alerts import ALERT_COLUMNS, plan_alerts, send_alerts
from fengqiao.outputs.common import Bureau
from fengqiao.outputs.mailsink import local_mail_sink
from fengqiao.regions import county_of, read_bureaus, read_regions
from fengqiao.settings import get_settings
from jobs import output_alerts
from outputs_lake import (
    BUREAUS, GANSHIQIAO, JIEFANGLU, LIXIA, PLANTED_PERSONAL, RED_REASONS, SHIZHONG, WEEK, build_tiny_lake,
)

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
        assert f"回复确认编号：{a.alert_id}" in a.body
        assert re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){4}", a.alert_id)   # never mistaken for a region code
    red = next(a for a in planned if a.region_code == JIEFANGLU)
    assert red.recipient_unit == "解放路街道司法所" and red.risk_level == "红" and "82%" in red.body
    assert all(reason in red.body for reason in RED_REASONS)
    assert "3月10日当周 45件 → 3月17日当周 102件" in red.body          # 4-week trend line
    assert [a.alert_id for a in plan_alerts(scores_week, bureaus, regions, features)] == \
        [a.alert_id for a in planned]                                     # deterministic ids
    assert len({a.alert_id for a in planned}) == len(planned)


def test_plan_refuses_a_bureau_of_another_county(lake, monkeypatch):
    scores_week, bureaus, regions, features = _inputs(lake)
    monkeypatch.setattr(alerts_module, "route",
                        lambda code, index: Bureau(LIXIA, "历下区司法局", "lixia-sfj@example.cn"))
    with pytest.raises(AssertionError, match="another county"):
        plan_alerts(scores_week, bureaus, regions, features)


def test_alerts_are_mailed_recorded_and_not_sent_twice(lake, tmp_path, smtp_env):
    mail = tmp_path / "mail"
    with local_mail_sink(mail) as (host, port):
        smtp_env(host, port)
        first = output_alerts.run(lake)
        second = output_alerts.run(lake)

    assert first == {"week_start": "2025-03-17", "planned": 3, "sent": 3, "failed": 0, "skipped": 0}
    assert second == {"week_start": "2025-03-17", "planned": 3, "sent": 0, "failed": 0, "skipped": 3}

    messages = _messages(mail)
    assert len(messages) == 3                                            # one per flagged region, none resent
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
        assert "回复确认编号：" in body and msg["X-Fengqiao-Alert-Id"] in body
        assert not any(p in body for p in PLANTED_PERSONAL)
    assert seen == EXPECTED

    recorded = read_table(lake.gold("alerts"))
    assert set(recorded.columns) == set(ALERT_COLUMNS)
    assert len(recorded) == 3 and (recorded["status"] == "sent").all() and (recorded["channel"] == "email").all()
    assert set(recorded["region_code"]) == set(EXPECTED)
    assert (recorded["week_start"] == WEEK).all()


def test_unreachable_server_records_failures_then_a_rerun_delivers(lake, tmp_path, smtp_env):
    with socket.socket() as s:                 # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    smtp_env("127.0.0.1", dead_port)

    counts = output_alerts.run(lake)

    assert counts["failed"] == 3 and counts["sent"] == 0
    recorded = read_table(lake.gold("alerts"))
    assert len(recorded) == 3 and (recorded["status"] == "failed").all()
    assert recorded["detail"].str.contains("unavailable").all()

    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        retry = output_alerts.run(lake)
    assert retry["sent"] == 3 and retry["skipped"] == 0
    recorded = read_table(lake.gold("alerts"))
    assert sorted(recorded["status"]) == ["failed"] * 3 + ["sent"] * 3


def test_a_region_without_bureau_fails_alone(lake, tmp_path, smtp_env):
    bureaus = read_bureaus(lake.reference / "bureaus.csv")
    bureaus[bureaus["region_code"] != SHIZHONG].to_csv(lake.reference / "bureaus.csv", index=False)
    with local_mail_sink(tmp_path / "mail") as (host, port):
        smtp_env(host, port)
        counts = output_alerts.run(lake)
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
        attempts = send_alerts(planned, get_settings(), lake)
    assert list(attempts.columns) == ALERT_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(attempts["sent_at"])


def test_no_smtp_host_is_a_clear_error(lake, monkeypatch):
    monkeypatch.delenv("FENGQIAO_SMTP_HOST", raising=False)
    with pytest.raises(RuntimeError, match="FENGQIAO_SMTP_HOST"):
        output_alerts.run(lake)


def test_mail_sink_is_loopback_only(tmp_path):
    with pytest.raises(ValueError, match="loopback"):
        with local_mail_sink(tmp_path, host="0.0.0.0"):
            pass
