"""A tiny simulated province through the real CLI and the Airflow DAGs, checked end to end.

The drop is scored with no truth/ folder beside it (the truth is moved aside first), mail goes to a
real SMTP server on loopback, and the planted personal data must not appear in anything the
pipeline wrote after silver.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fengqiao.lake import Lake, read_table
from fengqiao.delivery.mailsink import local_mail_sink
from fengqiao.core.regions import county_of, read_bureaus

pytestmark = pytest.mark.slow(first=True)  # the longest modules: started first (tests/conftest.py)
FENGQIAO = [sys.executable, "-m", "fengqiao.app.cli"]


def _cli(args, env, timeout=900):
    proc = subprocess.run(FENGQIAO + args, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} failed:\nSTDOUT\n{proc.stdout[-4000:]}\nSTDERR\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "FENGQIAO_HOME": str(work / "home"), "FENGQIAO_MODEL_DIR": str(work / "models"),
           "FENGQIAO_SPARK_DRIVER_MEMORY": "1g", "FENGQIAO_SPARK_SHUFFLE_PARTITIONS": "2",
           "SPARK_LOCAL_IP": "127.0.0.1", "AIRFLOW_HOME": str(work / "airflow")}
    env.pop("FENGQIAO_SMTP_HOST", None)
    # A model trained elsewhere: another simulated province, another seed.
    _cli(["train", "--scale", "small", "--seed", "11", "--weeks", "60"], env)
    _cli(["simulate", "--out", str(work / "drop"), "--scale", "small", "--seed", "7", "--weeks", "16"], env)
    shutil.move(str(work / "drop" / "truth"), str(work / "truth"))
    mailbox = work / "received"
    with local_mail_sink(mailbox) as (host, port):
        env.update(FENGQIAO_SMTP_HOST=host, FENGQIAO_SMTP_PORT=str(port))
        out = _cli(["run", "--source", str(work / "drop"), "--lake", str(work / "lake")], env)
        scores = read_table(Lake.at(work / "lake").gold("risk_scores"))
        flagged = sorted(scores.loc[scores["flagged"], "week_start"])
        assert flagged, "no township flagged in 16 weeks that hold planted escalations"
        if not scores.loc[scores["week_start"] == scores["week_start"].max(), "flagged"].any():
            # A quiet last week alerts nobody (the budget is a cap): send the latest week that has flags,
            # as a bureau's past week is sent on request.
            out += _cli(["run", "--source", str(work / "drop"), "--lake", str(work / "lake"),
                         "--week", str(flagged[-1])], env)
    return {"work": work, "lake": Lake.at(work / "lake"), "stdout": out, "mailbox": mailbox, "env": env}


def test_gold_tables_follow_the_contract(demo):
    lake = demo["lake"]
    features = read_table(lake.gold("region_week_features"))
    assert {"region_code", "level", "week_start"} <= set(features.columns)
    assert set(features["level"]) == {"village", "township", "county", "city", "province"}
    scores = read_table(lake.gold("risk_scores"))
    assert set(scores["level"]) == {"township", "county", "city", "province"}  # villages are not scored
    for col in ("region_code", "level", "week_start", "score", "risk_level", "flagged", "model_version", "reasons"):
        assert col in scores.columns, col
    assert scores["score"].between(0, 1).all()
    assert set(scores["risk_level"].dropna()) <= {"红", "橙", "黄", "蓝"}
    assert scores["week_start"].map(lambda d: d.weekday() == 0).all()
    flagged = scores[scores["flagged"]]
    assert len(flagged) > 0
    assert all(len(r) > 0 for r in flagged["reasons"])
    alerts = read_table(lake.gold("alerts"))
    for col in ("alert_id", "region_code", "week_start", "risk_level", "recipient_unit", "channel", "sent_at", "status"):
        assert col in alerts.columns, col


def test_counts_add_up_level_by_level(demo):
    """Issue 21: every level counts its own records, so children add up to their parent, week by week."""
    features = read_table(demo["lake"].gold("region_week_features"))
    counts = ["hotline_calls", "work_orders", "mediation_cases", "total_contacts", "wage_arrears", "referral_cases",
              "court_referral_cases", "police_referral_cases", "petition_referral_cases", "line_12345_calls"]
    parent_digits = {"village": 9, "township": 6, "county": 4, "city": 2}
    parent_level = {"village": "township", "township": "county", "county": "city", "city": "province"}
    for child, digits in parent_digits.items():
        rows = features[features["level"] == child]
        sums = rows.groupby([rows["region_code"].str[:digits].str.ljust(12, "0"), "week_start"])[counts].sum()
        parent = features[features["level"] == parent_level[child]].set_index(["region_code", "week_start"])[counts]
        joined = parent.join(sums, rsuffix="_children", how="left").fillna(0)
        for col in counts:
            if child == "village":  # a village counts only the records that name it
                assert (joined[f"{col}_children"] <= joined[col]).all(), col
            else:
                assert (joined[f"{col}_children"] == joined[col]).all(), (child, col)
    villages = features[features["level"] == "village"]
    assert len(villages) and villages["total_contacts"].gt(0).all()  # rows only in weeks that name the village
    assert features["referral_cases"].sum() > 0 and features["line_12345_calls"].sum() > 0


def test_briefing_is_written_in_chinese(demo):
    html = (demo["lake"].briefings / "latest.html").read_text(encoding="utf-8")
    assert "矛盾纠纷风险研判周报" in html
    assert "<svg" in html


def test_briefing_reports_the_alerts_its_week_sent(demo):
    # The briefing is rendered after the alerts, so the edition of a week that sent alerts reports them.
    alerts = read_table(demo["lake"].gold("alerts"))
    weeks = sorted(set(alerts.loc[alerts["status"] == "sent", "week_start"]))
    assert weeks
    for week in weeks:
        html = (demo["lake"].briefings / f"{pd.Timestamp(week).date().isoformat()}.html").read_text(encoding="utf-8")
        assert "尚无已发出的预警" not in html, week


def test_each_alert_reached_its_own_bureau_by_smtp(demo):
    lake = demo["lake"]
    alerts = read_table(lake.gold("alerts"))
    sent = alerts[alerts["status"] == "sent"]
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(demo["mailbox"].glob("*.eml"))]
    assert len(messages) == len(sent) > 0
    bureaus = read_bureaus(demo["work"] / "drop" / "reference" / "bureaus.csv")
    county_of_address = {row.email: county_of(row.region_code) for row in bureaus.itertuples()}
    for message in messages:
        body = message.get_body(preferencelist=("plain", "html")).get_content()
        codes = set(re.findall(r"\d{12}", body))
        recipient = message["To"].addresses[0].addr_spec
        assert recipient in county_of_address
        # A bureau never receives another county's region.
        assert all(county_of(c) == county_of_address[recipient] for c in codes if c.endswith("000"))


def _planted_strings(truth: Path) -> list[str]:
    """Every planted personal value in every form it may reappear in: as planted, its digits (a phone as
    a normaliser leaves it), and JSON-escaped (\\uXXXX, as an ASCII-only export or a log line writes it)."""
    pii = pd.read_csv(truth / "personal_data.csv", dtype=str, keep_default_na=False)
    forms = pd.read_csv(truth / "masking_forms.csv", dtype=str, keep_default_na=False)
    phone_digits = [re.sub(r"^(?:86|0086)(?=1[3-9]\d{9}$)", "", re.sub(r"\D", "", v))
                    for v in pii.loc[pii["kind"] == "phone", "value"]]
    # short names are common words; long values are unique (a name after a kin word is planted with the word)
    values = [v for v in pii["value"] if len(v) >= 5] + [v for v in forms["value"] if len(v) >= 4]
    numbers = [d for d in phone_digits + list(forms["digits"]) if len(d) >= 7]
    escaped = [json.dumps(v)[1:-1] for v in values]
    return sorted({*values, *numbers, *(e for e in escaped if "\\u" in e)})


def _pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def test_no_planted_personal_data_after_silver(demo):
    planted = _planted_strings(demo["work"] / "truth")
    forms = pd.read_csv(demo["work"] / "truth" / "masking_forms.csv", dtype=str)
    assert len(planted) > 100 and forms["form"].nunique() >= 8  # the drop planted the hard forms too
    lake = demo["lake"]
    logs = demo["work"] / "airflow" / "logs"
    haystacks = []
    for folder in (lake.root / "silver", lake.root / "gold", lake.outputs, lake.run_log, demo["mailbox"], logs):
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file():
                haystacks.append((path, path.read_bytes()))
    haystacks.append((Path("stdout"), demo["stdout"].encode()))
    scanned_pdfs = 0
    for path, data in haystacks:
        if path.suffix == ".parquet":
            data = pd.read_parquet(path).astype(str).to_csv().encode("utf-8")
        text = data.decode("utf-8", errors="ignore")
        if path.suffix == ".pdf":  # the text layer, not the compressed bytes
            text, scanned_pdfs = _pdf_text(path), scanned_pdfs + 1
        elif path.suffix == ".eml":  # bodies may be base64 or quoted-printable
            message = email.message_from_bytes(data, policy=email.policy.default)
            text += "\n".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")
        # str.__contains__ per value: ~4x faster here than one regex alternation of a few hundred literals.
        leaked = {value for value in planted if value in text}
        assert not leaked, f"{path} holds planted personal data ({len(leaked)} values)"
    assert scanned_pdfs > 0


def test_a_rerun_on_the_same_drop_changes_no_scores(demo):
    lake = demo["lake"]
    before = read_table(lake.gold("risk_scores")).sort_values(["region_code", "week_start"]).reset_index(drop=True)
    with local_mail_sink(demo["work"] / "received-again") as (host, port):
        env = {**demo["env"], "FENGQIAO_SMTP_HOST": host, "FENGQIAO_SMTP_PORT": str(port)}
        _cli(["run", "--source", str(demo["work"] / "drop"), "--lake", str(lake.root)], env)
    after = read_table(lake.gold("risk_scores")).sort_values(["region_code", "week_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    # Alerts already sent are not sent again.
    assert not list((demo["work"] / "received-again").glob("*.eml"))
