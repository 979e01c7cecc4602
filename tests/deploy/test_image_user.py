"""The image's containers run as a user with an account: Spark and Airflow look it up (docker/entrypoint.sh).

No Docker daemon runs where the tests run, so the image's user is checked three ways: the build and the services use
the same uid; the entry point runs the command for a user with an account and refuses one without; and, as root,
that a Spark session as a uid without an account fails while the same session with the account the image's
``useradd`` makes (a copy of /etc/passwd with its line, in a private mount namespace) writes and reads the lake.
"""
from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SERVICE_USER = "${AIRFLOW_UID:-50000}:0"

as_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                             reason="running as another uid needs root and setpriv")


def unused_uid() -> int:
    """A uid that has no account on this machine."""
    for uid in range(61000, 65000):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    raise RuntimeError("no free uid")


def setpriv(uid: int, argv: list[str]) -> list[str]:
    """``argv`` run as ``uid`` in group 0 (the containers' group), with no other group."""
    return ["setpriv", f"--reuid={uid}", "--regid=0", "--clear-groups", *argv]


def as_uid(uid: int, argv: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(setpriv(uid, argv), capture_output=True, text=True, env=env, **kwargs)


def test_the_image_account_is_made_for_the_uid_every_service_runs_as():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    build = compose["x-airflow"]["build"]
    assert build["args"]["FENGQIAO_UID"] == "${AIRFLOW_UID:-50000}"
    ours = {name: s for name, s in compose["services"].items() if s.get("image") == "fengqiao:latest"}
    assert {"airflow-scheduler", "spark-master", "spark-worker", "spark-connect", "fengqiao-secrets-check"} <= set(ours)
    assert {name: s.get("user") for name, s in ours.items()} == dict.fromkeys(ours, SERVICE_USER)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG FENGQIAO_UID=50000" in dockerfile
    assert 'useradd --uid "${FENGQIAO_UID}" --gid 0' in dockerfile
    assert "USER ${FENGQIAO_UID}" in dockerfile
    assert "COPY docker/entrypoint.sh /usr/local/bin/fengqiao-entrypoint" in dockerfile
    assert 'ENTRYPOINT ["/usr/local/bin/fengqiao-entrypoint"]' in dockerfile
    assert os.access(ENTRYPOINT, os.X_OK)


def test_the_entry_point_runs_the_command_for_a_user_with_an_account():
    done = subprocess.run([str(ENTRYPOINT), sys.executable, "-c", "import sys; print('ran', sys.argv[1:])", "a b"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran ['a b']"  # the command's arguments pass through as they were


@as_root
def test_the_entry_point_refuses_a_uid_without_an_account_and_says_what_to_do():
    uid = unused_uid()
    done = as_uid(uid, ["sh", str(ENTRYPOINT), "echo", "ran"], env={"PATH": os.environ["PATH"],
                                                                 "FENGQIAO_IMAGE_UID": "50000"})
    assert done.returncode == 78
    assert "ran" not in done.stdout
    assert f"runs as uid {uid}, which has no account in the image (built for uid 50000)" in done.stderr
    assert f"AIRFLOW_UID={uid}" in done.stderr and "docker compose build" in done.stderr


SPARK_ROUND_TRIP = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.range(7).write.parquet(sys.argv[1])
print("rows", spark.read.parquet(sys.argv[1]).count(), "user", spark.sparkContext.sparkUser())
spark.stop()
"""


@as_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a private /etc/passwd")
def test_spark_runs_as_a_uid_only_once_it_has_an_account():
    uid = unused_uid()
    # pytest's own temporary folders are private to root: the other uid must reach these.
    with tempfile.TemporaryDirectory(prefix="fengqiao-uid-") as folder:
        run_spark_as(uid, Path(folder))


def run_spark_as(uid: int, folder: Path) -> None:
    work = folder / "work"
    work.mkdir()
    work.chmod(0o777)
    script = folder / "round_trip.py"
    script.write_text(SPARK_ROUND_TRIP, encoding="utf-8")
    script.chmod(0o644)
    folder.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "JAVA_HOME": os.environ.get("JAVA_HOME", "")}
    env = {k: v for k, v in env.items() if v}

    without = as_uid(uid, [sys.executable, str(script), str(work / "without")], env=env, timeout=300)
    assert without.returncode != 0
    assert "basedir must be absolute: ?/" in without.stdout + without.stderr  # the JVM's home folder is "?"

    # The line the image's `useradd --uid UID --gid 0 --home-dir /opt/airflow airflow` writes, here in a copy of
    # /etc/passwd mounted over the real one in a mount namespace of this command only.
    passwd = folder / "passwd"
    passwd.write_text(Path("/etc/passwd").read_text(encoding="utf-8") + f"airflow:x:{uid}:0::{work}:/bin/sh\n",
                      encoding="utf-8")
    passwd.chmod(0o644)
    inner = shlex.join(setpriv(uid, [sys.executable, str(script), str(work / "with")]))
    with_account = subprocess.run(["unshare", "--mount", "sh", "-c", "mount --make-rprivate / && "
                                   f"mount --bind {shlex.quote(str(passwd))} /etc/passwd && exec {inner}"],
                                  capture_output=True, text=True, env=env, timeout=300)
    assert with_account.returncode == 0, with_account.stderr[-3000:]
    assert "rows 7 user airflow" in with_account.stdout
