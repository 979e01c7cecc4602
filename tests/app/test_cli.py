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


def _mediation_silver(lake, weeks: int = 20, per_week: int = 120, phrasing: int = 1) -> None:
    """A lake whose silver holds only mediation cases: per week ``per_week`` cases of six types, each type worded
    with its own made-up words (CJK characters no other type uses), types stated as the registry states them."""
    import datetime as dt

    import pandas as pd

    from fengqiao.core.disputes import TYPE_LABELS

    labels = [t for t in TYPE_LABELS if t != "其他"][:6]
    for week in range(weeks):
        monday = dt.date(2025, 1, 6) + dt.timedelta(weeks=week)
        rows = []
        for i in range(per_week):
            base = 0x4E00 + 3000 * phrasing + 40 * (i % 6) + 2 * (i % 5)
            rows.append({"summary": f"{chr(base)}{chr(base + 1)}，{chr(base + 10)}{chr(base + 11)}。",
                         "dispute_type": labels[i % 6]})
        folder = lake / "silver" / "mediation_cases" / f"week_start={monday}"
        folder.mkdir(parents=True)
        pd.DataFrame(rows).to_parquet(folder / "part-0.parquet", index=False)


def test_train_types_replaces_a_classifier_of_other_words_and_refuses_a_lake_without_enough_texts(tmp_path):
    from models import text_models as TM

    lake, models = tmp_path / "lake", tmp_path / "models"
    _mediation_silver(lake)
    result = _invoke("train-types", "--lake", str(lake), "--model-dir", str(models))
    assert result.exit_code == 0, result.output
    assert "new classifier 100.0%" in result.output and "(current)" in result.output
    first = TM.load_text_model(models, TM.TYPE_KIND)[1]["model_version"]
    # Once more on the same lake: as accurate as the current one, so the same texts give the same version again.
    again = _invoke("train-types", "--lake", str(lake), "--model-dir", str(models))
    assert "current one 100.0%" in again.output
    assert TM.load_text_model(models, TM.TYPE_KIND)[1]["model_version"] == first
    small = tmp_path / "small"
    _mediation_silver(small, weeks=4)
    refused = _invoke("train-types", "--lake", str(small), "--model-dir", str(models))
    assert refused.exit_code == 2 and "not trained:" in refused.output and "at least 2,000" in refused.output
    no_lake = _invoke("train-types", "--lake", str(tmp_path / "nothing"), "--model-dir", str(models))
    assert no_lake.exit_code == 2 and "has no silver mediation cases: run the pipeline" in no_lake.output
