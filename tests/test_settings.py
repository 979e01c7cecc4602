"""The settings: one immutable object read from the environment once, and written back to it unchanged."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fengqiao.core.settings import VARIABLES, Settings


def test_every_setting_but_the_time_zone_has_its_variable():
    assert set(VARIABLES) == {f.name for f in dataclasses.fields(Settings)} - {"timezone"}


def test_defaults_sit_under_the_home_and_nothing_secret_has_one(tmp_path):
    settings = Settings.from_env({"FENGQIAO_HOME": str(tmp_path), "FENGQIAO_SMTP_HOST": ""})
    assert settings.source_dir == tmp_path / "source" and settings.lake_dir == tmp_path / "lake"
    assert settings.model_dir == tmp_path / "models" and settings.airflow_home == tmp_path / "airflow"
    assert settings.bureau_keys_file == tmp_path / "secrets" / "bureau_keys.csv"
    assert settings.smtp_host is None  # empty is unset
    assert (settings.spark_master, settings.task_retries, settings.alert_budget_share) == ("local[2]", 2, 0.02)
    assert None is settings.pseudonym_key is settings.smtp_password is settings.webhook_key is settings.workorders_dsn
    assert settings.spark_driver_host is None
    assert Settings.from_env({"SPARK_LOCAL_IP": "10.0.0.5"}).spark_driver_host == "10.0.0.5"


def test_the_variables_of_a_copy_rebuild_the_same_settings(tmp_path):
    base = Settings.from_env({"FENGQIAO_HOME": str(tmp_path), "FENGQIAO_PSEUDONYM_KEY_FILE": str(tmp_path / "k"),
                              "FENGQIAO_SMTP_STARTTLS": "yes", "FENGQIAO_SPARK_CORES_MAX": "3",
                              "SPARK_LOCAL_IP": "127.0.0.1", "FENGQIAO_SMTP_PASSWORD": "pw"})
    changed = dataclasses.replace(base, lake_dir=tmp_path / "other-lake", through="2025-03-09", smtp_port=2525,
                                  task_retries=0)
    env = changed.to_env()
    assert env["FENGQIAO_LAKE"] == str(tmp_path / "other-lake") and env["FENGQIAO_SMTP_STARTTLS"] == "true"
    assert env["FENGQIAO_WEBHOOK_KEY"] is None  # unset in the environment that rebuilds them
    assert Settings.from_env({k: v for k, v in env.items() if v is not None}) == changed
    assert base.lake_dir == tmp_path / "lake"  # the original is untouched


def test_settings_are_immutable(tmp_path):
    settings = Settings.from_env({"FENGQIAO_HOME": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lake_dir = Path("/elsewhere")  # type: ignore[misc]


def test_secrets_stay_out_of_the_repr():
    settings = Settings.from_env({"FENGQIAO_SMTP_PASSWORD": "smtp-secret", "FENGQIAO_PSEUDONYM_KEY": "key-secret",
                                  "FENGQIAO_WEBHOOK_KEY": "hook-secret", "FENGQIAO_WORKORDERS_DSN": "dsn-secret"})
    assert not [word for word in ("smtp-secret", "key-secret", "hook-secret", "dsn-secret") if word in repr(settings)]
