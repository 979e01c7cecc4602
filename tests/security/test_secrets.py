"""No usable default secret: which pseudonym key a drop gets, and that the key never shows in plans or logs."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from typer.testing import CliRunner

from drop_builder import PII, write_drop
from fengqiao.core.envscope import settings_env
from fengqiao.core.keys import DEMO_KEY_FILE, OLD_DEVELOPMENT_KEY, PseudonymKeyError
from fengqiao.lake import Lake
from fengqiao.core.privacy import normalise_phone, pseudonym
from fengqiao.core.settings import Settings

KNOWN_KEY = "fengqiao-known-plan-test-key-7c1e9b2a4d6f8e0a"
NO_KEY = {"FENGQIAO_PSEUDONYM_KEY": None, "FENGQIAO_PSEUDONYM_KEY_FILE": None}


def _real_drop(root: Path) -> Path:
    """A drop as a real export delivers it: reference files, no truth/."""
    reference = root / "reference"
    reference.mkdir(parents=True)
    (reference / "regions.csv").write_text("code,name,level,parent_code,lat,lon,population\n", encoding="utf-8")
    (reference / "bureaus.csv").write_text("region_code,unit_name,email,webhook_url\n", encoding="utf-8")
    return root


def _simulated_drop(root: Path) -> Path:
    (root / "truth").mkdir(parents=True)
    return root


def _resolve(source: Path, home: Path, **env: str | None) -> tuple[str, str]:
    with settings_env(FENGQIAO_SOURCE=str(source), FENGQIAO_HOME=str(home), **{**NO_KEY, **env}):
        key = Settings.from_env().resolved_pseudonym_key()
    return key.secret, key.origin


# --- which key ---------------------------------------------------------------------------------------

def test_a_real_drop_without_a_key_is_refused_with_how_to_make_one(tmp_path):
    with pytest.raises(PseudonymKeyError) as refused:
        _resolve(_real_drop(tmp_path / "drop"), tmp_path / "home")
    message = str(refused.value)
    assert "\n" not in message and "no pseudonym key" in message
    assert "secrets.token_hex(32)" in message and "FENGQIAO_PSEUDONYM_KEY_FILE" in message
    assert not (tmp_path / "home" / DEMO_KEY_FILE).exists()  # no key is made up for real data


@pytest.mark.parametrize("weak, reason", [
    (OLD_DEVELOPMENT_KEY, "old public development default"),
    ("change-me-to-a-long-random-secret", "placeholder"),  # the earlier docker/env.example's
    ("replace-me-pseudonym-key", "placeholder"),           # this docker/env.example's
    ("0123456789abcdef0123456789abcde", "shorter than 32 characters"),
])
def test_the_old_default_placeholders_and_short_keys_are_refused_for_a_real_drop(tmp_path, weak, reason):
    with pytest.raises(PseudonymKeyError) as refused:
        _resolve(_real_drop(tmp_path / "drop"), tmp_path / "home", FENGQIAO_PSEUDONYM_KEY=weak)
    assert reason in str(refused.value) and "from FENGQIAO_PSEUDONYM_KEY" in str(refused.value)
    assert weak not in str(refused.value)  # the message never repeats the key


def test_fengqiao_run_refuses_a_real_drop_before_any_stage(tmp_path):
    from fengqiao.app.cli import app

    lake = tmp_path / "lake"
    with settings_env(FENGQIAO_HOME=str(tmp_path / "home"), FENGQIAO_PSEUDONYM_KEY=OLD_DEVELOPMENT_KEY,
                      FENGQIAO_PSEUDONYM_KEY_FILE=None):
        before = dict(os.environ)
        result = CliRunner().invoke(app, ["run", "--source", str(_real_drop(tmp_path / "drop")), "--lake", str(lake)])
        assert dict(os.environ) == before  # the drop and lake went into the run's settings, not the environment
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        line for line in result.output.splitlines() if line.strip()]  # one error line, nothing else
    assert "old public development default" in result.output and OLD_DEVELOPMENT_KEY not in result.output
    assert not lake.exists()


def test_the_silver_jobs_the_airflow_tasks_run_refuse_a_real_drop_as_well(tmp_path):
    from jobs.silver import hotline_calls as H
    from jobs.silver import mediation_cases as M

    with settings_env(FENGQIAO_SOURCE=str(_real_drop(tmp_path / "drop")), FENGQIAO_HOME=str(tmp_path / "home"),
                      FENGQIAO_PSEUDONYM_KEY="change-me-to-a-long-random-secret", FENGQIAO_PSEUDONYM_KEY_FILE=None):
        for job in (H, M):  # the key is resolved before any data is read
            with pytest.raises(PseudonymKeyError, match="placeholder"):
                job.clean_with_settings(None, None, Settings.from_env())


def test_a_real_drop_takes_a_strong_key_from_the_environment_or_a_private_file(tmp_path):
    drop, home, strong = _real_drop(tmp_path / "drop"), tmp_path / "home", os.urandom(32).hex()
    assert _resolve(drop, home, FENGQIAO_PSEUDONYM_KEY=strong) == (strong, "FENGQIAO_PSEUDONYM_KEY")
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text(strong + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    assert _resolve(drop, home, FENGQIAO_PSEUDONYM_KEY_FILE=str(key_file)) == (strong, str(key_file))
    # Readable by others: refused (like ssh's private keys), with the command that fixes it.
    key_file.chmod(0o640)
    with pytest.raises(PseudonymKeyError, match=r"mode 0640.*chmod 600"):
        _resolve(drop, home, FENGQIAO_PSEUDONYM_KEY_FILE=str(key_file))


def test_a_simulated_drop_gets_a_private_per_install_key_reused_on_the_next_run(tmp_path):
    drop, home = _simulated_drop(tmp_path / "drop"), tmp_path / "home"
    first, origin = _resolve(drop, home)
    key_file = home / DEMO_KEY_FILE
    assert origin == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) == 64 and int(first, 16) >= 0
    assert _resolve(drop, home)[0] == first                    # the next run: same key, same pseudonyms
    assert _resolve(drop, tmp_path / "other-home")[0] != first  # another install: its own key


# --- the Arrow UDF equals the HMAC built from Spark expressions --------------------------------------

def _expression_pseudonym(column, key: str):
    """The earlier implementation (key pads as literals), kept here to show the pseudonyms did not change."""
    key_bytes = key.encode("utf-8")
    key_bytes = (hashlib.sha256(key_bytes).digest() if len(key_bytes) > 64 else key_bytes).ljust(64, b"\0")
    ipad, opad = (bytes(b ^ pad for b in key_bytes).hex() for pad in (0x36, 0x5C))
    inner = F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(column, "UTF-8")), 256)
    outer = F.sha2(F.concat(F.unhex(F.lit(opad)), F.unhex(inner)), 256)
    return F.when(F.length(F.trim(column)) > 0, outer)


def test_pseudonyms_are_those_of_the_expression_and_of_hmac_new(spark):
    values = ["13812345678", "+86 138-1234-5678", " 13812345678 ", "李秀英", "赵调解", "\t", "\u3000", "x" * 300,
              "  ", "", None]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    keys = (KNOWN_KEY, "短钥匙-" * 12)  # a key over 64 bytes (this one: 120) is hashed first (RFC 2104)
    rows = df.select(*[c for i, key in enumerate(keys) for c in (
        pseudonym("v", key).alias(f"udf{i}"), _expression_pseudonym(F.col("v"), key).alias(f"expr{i}"),
        pseudonym(normalise_phone(F.col("v")), key).alias(f"phone{i}"))]).collect()
    for i, key in enumerate(keys):
        assert [r[f"udf{i}"] for r in rows] == [r[f"expr{i}"] for r in rows]
        assert [r[f"udf{i}"] for r in rows] == [
            hmac.new(key.encode(), v.encode(), hashlib.sha256).hexdigest() if v and v.strip(" ") else None
            for v in values]
        assert rows[0][f"phone{i}"] == rows[1][f"phone{i}"] is not None
    assert rows[0]["udf0"] != rows[0]["udf1"]


# --- the key never shows -----------------------------------------------------------------------------

def _key_forms(key: str) -> list[str]:
    """The key as text and hex, and its HMAC pads (key XOR 0x36 / 0x5c) as hex, spaced hex and raw characters."""
    raw = key.encode("utf-8")
    forms = [key, raw.hex()]
    for pad in (0x36, 0x5C):
        xored = bytes(b ^ pad for b in raw)[:12]
        forms += [xored.hex(), " ".join(f"{b:02x}" for b in xored), xored.decode("latin-1")]
    return forms


def _leaks(text: str, key: str) -> list[str]:
    return [form for form in _key_forms(key) if form.lower() in text.lower()]


def _silver_frames(spark, key: str):
    from drop_builder import REGIONS, case
    from jobs.silver import hotline_calls as H
    from jobs.silver import mediation_cases as M
    from silver_frames import call, csv_raw, hotline_raw

    regions = spark.createDataFrame([r[:3] for r in REGIONS], "code string, name string, level string")
    hotline, _ = H.clean_hotline_calls(hotline_raw(spark, [call("C1")]), regions, key)
    mediation, _ = M.clean_mediation_cases(
        csv_raw(spark, M.COLUMNS, [(case("M1"), None)], "bronze/mediation/2025-03-04/c.csv"), regions, key)
    return hotline, mediation


def _plans(df, capsys) -> str:
    for mode in ("extended", "formatted"):  # the parsed to physical plans, and the Spark UI's SQL tab
        df.explain(mode=mode)
    return capsys.readouterr().out


def test_the_key_is_not_in_the_plans_of_the_silver_transforms(spark, capsys, monkeypatch):
    """The plans of the silver frames and of the checked records they are built from: the silver jobs keep
    those in a local checkpoint (jobs.silver.rules.check_records), whose plan is the one that hashes."""
    DataFrame = type(spark.range(1))  # the session's class (pyspark.sql.classic's in Spark 4)
    checkpointed, checkpoint = [], DataFrame.localCheckpoint

    def recording(self, *args, **kwargs):
        checkpointed.append(_plans(self, capsys))
        return checkpoint(self, *args, **kwargs)

    monkeypatch.setattr(DataFrame, "localCheckpoint", recording)
    frames = _silver_frames(spark, KNOWN_KEY)
    assert len(checkpointed) >= len(frames) and all("pseudonym" in text for text in checkpointed)  # captured
    for text in [_plans(frame, capsys) for frame in frames] + checkpointed:
        assert _leaks(text, KNOWN_KEY) == []
    # The same check finds the key in a plan of the earlier expression-based HMAC: it can fail.
    old = spark.createDataFrame([("13812345678",)], "v string").select(_expression_pseudonym(F.col("v"), KNOWN_KEY))
    assert _leaks(_plans(old, capsys), KNOWN_KEY)


def test_the_key_is_not_in_the_logs_of_a_silver_run_on_a_simulated_drop(spark, tmp_path, capsys, caplog):
    """Python's logs at DEBUG (py4j's included: every call to the JVM, with its arguments), the run's output
    and its run log. The JVM's own log goes to the stream it inherited at start, out of this test's reach;
    what Spark would log of a query is its plan, checked above."""
    from jobs.silver import hotline_calls as H
    from jobs.bronze.land_drops import land_drops

    source, lake, home = write_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake"), tmp_path / "home"
    land_drops(source, lake, log=lambda _: None)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="py4j")
    with settings_env(FENGQIAO_SOURCE=str(source), FENGQIAO_HOME=str(home), FENGQIAO_LAKE=str(lake.root),
                      FENGQIAO_MODEL_DIR=str(tmp_path / "models"), **NO_KEY):
        H.run(spark, lake, Settings.from_env())
    key = (home / DEMO_KEY_FILE).read_text(encoding="utf-8").strip()  # made by the run: the drop has truth/
    captured = capsys.readouterr()
    logs = "\n".join([captured.out, captured.err, caplog.text] + [
        p.read_text(encoding="utf-8", errors="replace") for p in lake.run_log.rglob("*") if p.is_file()])
    assert "py4j" in caplog.text  # the logs were captured
    assert _leaks(logs, key) == []
    calls = spark.read.parquet(str(lake.silver("hotline_calls")))
    assert calls.where(F.col("call_id") == "C1").first()["caller_key"] == hmac.new(
        key.encode(), PII["caller_phone"].encode(), hashlib.sha256).hexdigest()
    # The same check finds the key in py4j's log of the earlier expression-based HMAC: it can fail.
    caplog.clear()
    spark.range(1).select(_expression_pseudonym(F.lit("13812345678"), key)).collect()
    assert _leaks(caplog.text, key)
