"""docker-compose.yml describes a real deployment (no Docker daemon here, so its structure is checked)."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_airflow_3_components_spark_cluster_and_postgres_are_defined():
    services = load()["services"]
    for name in ("postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-triggerer", "spark-master", "spark-worker"):
        assert name in services, name
    assert services["airflow-apiserver"]["command"][:2] == ["airflow", "api-server"]
    assert services["airflow-dag-processor"]["command"] == ["airflow", "dag-processor"]
    assert "org.apache.spark.deploy.master.Master" in services["spark-master"]["command"]
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]


def test_airflow_uses_postgres_and_submits_to_the_cluster():
    services = load()["services"]
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["SPARK_MASTER"] == "spark://spark-master:7077"
        assert env["FENGQIAO_LAKE"] == "/data/lake"
        # Secrets come from the operator's .env, never from the file itself.
        assert env["FENGQIAO_PSEUDONYM_KEY"].startswith("${")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dags_and_lake_are_mounted_where_the_settings_expect_them():
    compose = load()
    services = compose["services"]
    mounts = services["airflow-scheduler"]["volumes"]
    assert any(m.startswith("./dags:/opt/fengqiao/dags") for m in mounts)
    assert "lake:/data/lake" in mounts
    assert "lake:/data/lake" in services["spark-worker"]["volumes"]
    assert {"lake", "postgres-db", "models"} <= set(compose["volumes"])


def test_the_image_is_built_from_the_lock_file():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "uv sync --frozen" in dockerfile
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert "openjdk-17" in dockerfile
    for name in ("airflow-scheduler", "spark-master", "spark-worker"):
        assert load()["services"][name]["image"] == "fengqiao:latest"
