"""The command line checks its arguments before any work starts: one clear message, no traceback."""
from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from fengqiao.app.cli import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_version_names_the_installed_release():
    result = _invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"fengqiao {version('fengqiao')}"


@pytest.mark.parametrize("args,option,words", [
    (("simulate", "--out", "{tmp}/drop", "--scale", "bogus"), "--scale", "'bogus' is not one of"),
    (("simulate", "--out", "{tmp}/drop", "--world", "mars"), "--world", "'mars' is not one of"),
    (("simulate", "--out", "{tmp}/drop", "--start", "2024-11-05"), "--start", "is not a Monday"),
    (("simulate", "--out", "{tmp}/drop", "--start", "11/04/2024"), "--start", "is not a date"),
    (("run", "--source", "{tmp}", "--lake", "{tmp}/lake", "--through", "notadate"), "--through", "is not a date"),
    (("run", "--source", "{tmp}", "--lake", "{tmp}/lake", "--week", "2025-03-05"), "--week", "is not a Monday"),
    (("backfill", "--source", "{tmp}", "--lake", "{tmp}/lake", "--from", "x", "--to", "2025-01-01"), "--from",
     "is not a date"),
    (("backtest", "--lake", "{tmp}/lake", "--truth", "{tmp}", "--protocol", "sideways"), "--protocol",
     "is not one of"),
])
def test_bad_arguments_are_refused_up_front(tmp_path, args, option, words):
    result = _invoke(*(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # the error box wraps long lines
    assert option in text and words in text
    assert "Traceback" not in result.output
    assert not (tmp_path / "drop").exists() and not (tmp_path / "lake").exists()  # nothing was started


def test_backtest_on_a_lake_that_was_never_scored_says_what_to_do(tmp_path):
    result = _invoke("backtest", "--lake", str(tmp_path / "lake"), "--truth", str(tmp_path))
    assert result.exit_code == 2
    assert "run `fengqiao run` on it first" in " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("command", [("query", "select 1"), ("shell",)])
def test_analyst_commands_refuse_a_folder_that_is_no_lake(tmp_path, command):
    result = _invoke(*command, "--lake", str(tmp_path / "nonexistent"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no lake at" in result.output


def test_cli_and_make_demo_share_one_home(monkeypatch):
    """`fengqiao run` after `make demo` (both from the clone's root) must find the models the demo registered."""
    import re
    from pathlib import Path

    from fengqiao.core.settings import Settings

    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    make_home = re.search(r"^export FENGQIAO_HOME \?= \$\(CURDIR\)/(\S+)$", makefile, re.M).group(1)
    for name in ("FENGQIAO_HOME", "FENGQIAO_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    settings = Settings.from_env()
    assert settings.home == root / make_home
    assert settings.model_dir == root / make_home / "models"


def test_run_under_spark_connect_refuses_a_key_given_as_a_variable_before_any_stage(tmp_path, monkeypatch):
    """The silver jobs would refuse it after bronze had landed: `fengqiao run` says so before anything starts."""
    from drop_builder import write_drop

    drop = write_drop(tmp_path / "drop")
    key = "a-strong-pseudonym-key-for-this-test-0123456789"
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark-connect:15002")
    monkeypatch.setenv("FENGQIAO_PSEUDONYM_KEY", key)
    monkeypatch.delenv("FENGQIAO_PSEUDONYM_KEY_FILE", raising=False)
    result = _invoke("run", "--source", str(drop), "--lake", str(tmp_path / "lake"))
    assert result.exit_code == 2
    assert "FENGQIAO_PSEUDONYM_KEY_FILE" in result.output and "never travels in a plan" in result.output
    assert key not in result.output
    assert not (tmp_path / "lake").exists()
