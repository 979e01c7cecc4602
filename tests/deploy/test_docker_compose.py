"""docker-compose.yml describes a real deployment (no Docker daemon here, so its structure is checked)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_airflow_3_components_spark_cluster_and_postgres_are_defined():
    services = load()["services"]
    for name in ("postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-triggerer", "spark-master", "spark-worker", "spark-connect"):
        assert name in services, name
    assert services["airflow-apiserver"]["command"][:2] == ["airflow", "api-server"]
    assert services["airflow-dag-processor"]["command"] == ["airflow", "dag-processor"]
    assert "org.apache.spark.deploy.master.Master" in services["spark-master"]["command"]
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]
    assert services["spark-connect"]["command"][:2] == ["fengqiao", "spark-connect-server"]
    # The command supervises the server (it restarts it when due): an init is PID 1, passing signals on and reaping.
    assert services["spark-connect"]["init"] is True


def test_airflow_uses_postgres_and_the_connect_server():
    services = load()["services"]
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["SPARK_REMOTE"] == "sc://spark-connect:15002"
        assert env["FENGQIAO_LAKE"] == "/data/lake"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dags_and_lake_are_mounted_where_the_settings_expect_them():
    compose = load()
    services = compose["services"]
    mounts = services["airflow-scheduler"]["volumes"]
    assert any(m.startswith("./dags:/opt/fengqiao/dags") for m in mounts)
    assert "lake:/data/lake" in mounts
    assert "lake:/data/lake" in services["spark-worker"]["volumes"]
    # The Connect server is the driver: it commits the tables' files on the lake.
    assert "lake:/data/lake" in services["spark-connect"]["volumes"]
    assert {"lake", "postgres-db", "models"} <= set(compose["volumes"])


def test_the_image_is_built_from_the_lock_file():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "uv sync --frozen" in dockerfile
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert "openjdk-17" in dockerfile
    for name in ("airflow-scheduler", "spark-master", "spark-worker"):
        assert load()["services"][name]["image"] == "fengqiao:latest"


# --- a real deployment: Spark connection, shared lake, mail and keys --------------------------------

AIRFLOW_SERVICES = ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer")


def _default(value: str) -> str:
    """The default of a ``${VAR:-default}`` reference (or the value itself)."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def _memory_mb(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mg])", text.lower()).groups()
    return int(number) * (1024 if unit == "g" else 1)


def test_the_connect_server_drives_the_compose_cluster_and_the_tasks_are_its_clients():
    services = load()["services"]
    master_cmd = services["spark-master"]["command"]
    master = f"spark://{master_cmd[master_cmd.index('--host') + 1]}:{master_cmd[master_cmd.index('--port') + 1]}"
    assert master in services["spark-worker"]["command"]
    connect = services["spark-connect"]
    assert connect["environment"]["SPARK_MASTER"] == master
    # Executors reach the driver (the server) by its service name; the server listens on its container's network.
    assert connect["environment"]["FENGQIAO_SPARK_DRIVER_HOST"] == "spark-connect"
    command = connect["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    remote = f"sc://spark-connect:{command[command.index('--port') + 1]}"
    assert connect["depends_on"]["spark-master"]["condition"] == "service_healthy"
    assert services["airflow-scheduler"]["depends_on"]["spark-connect"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["SPARK_REMOTE"] == remote
        # Nothing is submitted and no task starts a driver: no master, no Spark connection, no driver options.
        assert not {"SPARK_MASTER", "AIRFLOW_CONN_SPARK_DEFAULT", "FENGQIAO_SPARK_DRIVER_MEMORY"} & set(env)


def test_executors_fit_the_workers_and_share_the_lake_at_the_drivers_path():
    services = load()["services"]
    env = services["spark-connect"]["environment"]
    worker = services["spark-worker"]
    cmd = worker["command"]
    worker_memory, worker_cores = _memory_mb(cmd[cmd.index("--memory") + 1]), int(cmd[cmd.index("--cores") + 1])
    assert _memory_mb(_default(env["FENGQIAO_SPARK_EXECUTOR_MEMORY"])) <= worker_memory
    assert int(_default(env["FENGQIAO_SPARK_CORES_MAX"])) <= worker_cores * worker["deploy"]["replicas"]
    lake_path = services["airflow-scheduler"]["environment"]["FENGQIAO_LAKE"]
    for name in ("spark-worker", "spark-connect", "airflow-scheduler"):
        assert f"lake:{lake_path}" in services[name]["volumes"], name
    # The lake is read-write for executors (they write tables' files); the upstream drop is not theirs to read.
    assert not any(str(v).endswith(":ro") and lake_path in str(v) for v in worker["volumes"])


def test_the_pseudonym_key_is_a_file_only_its_readers_get_and_spark_is_on_a_private_network():
    compose = load()
    services = compose["services"]
    key_secret = compose["secrets"]["pseudonym_key"]["file"]
    assert key_secret.startswith("${FENGQIAO_PSEUDONYM_KEY_HOST_FILE:?")
    readers = {name for name, service in services.items() if "pseudonym_key" in service.get("secrets", [])}
    # The check, the scheduler (its tasks check the key and hand its path to the UDF), the executors' Python workers.
    assert readers == {"fengqiao-secrets-check", "airflow-scheduler", "spark-worker"}
    for name, service in services.items():
        env = service.get("environment") or {}
        assert "FENGQIAO_PSEUDONYM_KEY" not in env, f"{name} has the key as a variable"
        if name in readers:
            assert env["FENGQIAO_PSEUDONYM_KEY_FILE"] == "/run/secrets/pseudonym_key", name
            # A 0600 file is read by its owner only: every reader runs as the containers' user.
            assert service["user"] == "${AIRFLOW_UID:-50000}:0", name
    on_spark_network = {name for name, service in services.items() if "spark" in service.get("networks", [])}
    assert on_spark_network == {"airflow-scheduler", "spark-master", "spark-worker", "spark-connect"}
    for name in ("spark-master", "spark-worker", "spark-connect"):
        assert services[name]["networks"] == ["spark"], name
    assert "spark" in compose["networks"]


def test_mail_and_keys_come_from_the_operators_env_file():
    services = load()["services"]
    env = services["airflow-scheduler"]["environment"]
    for key in ("FENGQIAO_SMTP_HOST", "FENGQIAO_SMTP_PORT", "FENGQIAO_SMTP_USER", "FENGQIAO_SMTP_PASSWORD",
                "FENGQIAO_SMTP_SENDER", "FENGQIAO_SMTP_STARTTLS", "FENGQIAO_WEBHOOK_KEY"):
        assert str(env[key]).startswith("${" + key), key
    # Every variable the compose file reads without a default is documented in docker/env.example.
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    example = (ROOT / "docker" / "env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+)=", example, flags=re.M))
    for name, rest in re.findall(r"(?<!\$)\$\{(\w+)((?::[-?])?)", text):  # "$${X}" is the container's own
        if rest != ":-":
            assert name in documented, name


def test_every_fengqiao_variable_of_the_compose_file_is_read_by_the_settings():
    # The settings, and the outputs' delivery options (fengqiao/delivery/webhooks.py) that read the rest.
    settings_src = "".join((ROOT / "fengqiao" / f).read_text(encoding="utf-8")
                           for f in ("core/settings.py", "delivery/webhooks.py"))
    services = load()["services"]
    env = {**services["airflow-scheduler"]["environment"], **services["spark-connect"]["environment"]}
    for key in env:
        if key.startswith("FENGQIAO_") or key in ("SPARK_MASTER", "SPARK_REMOTE"):
            assert f'"{key}"' in settings_src, f"{key} is set in docker-compose.yml but fengqiao/core/settings.py never reads it"


def test_healthchecks_use_tools_the_image_installs():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for name, service in load()["services"].items():
        test = (service.get("healthcheck") or {}).get("test")
        if test and service.get("image") == "fengqiao:latest":
            tool = test[1].split()[0] if test[0] == "CMD-SHELL" else test[1]
            if tool in ("airflow", "python"):  # the image's locked environment
                continue
            assert re.search(rf"apt-get install[^\n]*\b{tool}\b", dockerfile), (name, tool)


# --- secrets: required, never the examples ---------------------------------------------------------

# The operator's .env names of the secrets every deployment must make.
REQUIRED_SECRETS = ("FENGQIAO_PSEUDONYM_KEY_HOST_FILE", "AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "POSTGRES_PASSWORD")


def _example_env() -> dict[str, str]:
    example = (ROOT / "docker" / "env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^(\w+)=(.*)$", example, flags=re.M))


def _interpolate(value: str, env_file: dict[str, str]) -> str:
    """``value`` as compose would pass it, with ``${VAR...}`` taken from ``env_file``."""
    return re.sub(r"\$\{(\w+)(?::[-?][^}]*)?\}", lambda m: env_file.get(m.group(1), ""), str(value))


def test_required_secrets_stop_compose_when_unset_and_have_no_default():
    services = load()["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY:?")
    assert load()["secrets"]["pseudonym_key"]["file"].startswith("${FENGQIAO_PSEUDONYM_KEY_HOST_FILE:?")
    assert "${POSTGRES_PASSWORD:?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name in REQUIRED_SECRETS:
        references = re.findall(rf"\$\{{{name}(:?[-?]?)", text)
        assert references and set(references) == {":?"}, (name, references)


def test_the_secrets_check_runs_before_the_database_and_airflow():
    services = load()["services"]
    check = services["fengqiao-secrets-check"]
    assert check["image"] == "fengqiao:latest"
    assert check["command"] == ["python", "-m", "fengqiao.core.keys"]
    assert services["postgres"]["depends_on"]["fengqiao-secrets-check"]["condition"] == "service_completed_successfully"
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def _key_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    """The pseudonym key's file as compose mounts it (a host file, its mode kept)."""
    path = folder / "pseudonym_key"
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_secrets_check_refuses_the_example_values_and_accepts_the_documented_commands(tmp_path):
    from fengqiao.core.keys import DEPLOYMENT_SECRETS, deployment_secret_problems

    check = load()["services"]["fengqiao-secrets-check"]
    check_env = check["environment"]
    assert set(check_env) == set(DEPLOYMENT_SECRETS) | {"FENGQIAO_PSEUDONYM_KEY_FILE"}
    assert check["secrets"] == ["pseudonym_key"]
    mounted = check_env["FENGQIAO_PSEUDONYM_KEY_FILE"]

    def problems(env_file: dict[str, str], key_file: Path) -> list[str]:
        env = {k: _interpolate(v, env_file) for k, v in check_env.items()}
        return deployment_secret_problems({**env, "FENGQIAO_PSEUDONYM_KEY_FILE": str(key_file)})

    example = _example_env()
    found = problems(example, _key_file(tmp_path, "replace-me-pseudonym-key"))
    assert len(found) == len(REQUIRED_SECRETS)
    for name in REQUIRED_SECRETS:
        assert any(line.startswith(name) for line in found), name
    assert mounted == "/run/secrets/pseudonym_key"
    # The values earlier releases' env.example held are refused as well.
    old = {"AIRFLOW_JWT_SECRET": "change-me-too", "POSTGRES_PASSWORD": "airflow", "AIRFLOW_FERNET_KEY": ""}
    assert len(problems(old, _key_file(tmp_path, "change-me-to-a-long-random-secret"))) == 4
    # Each secret's command, documented above it in env.example, makes a value the check accepts.
    text = (ROOT / "docker" / "env.example").read_text(encoding="utf-8")
    made = {}
    for name in REQUIRED_SECRETS:
        command = re.search(rf"^#\s+python3 -c '([^']+)'[^\n]*\n{name}=", text, flags=re.M)
        assert command, f"env.example shows no command making {name}"
        made[name] = subprocess.run([sys.executable, "-c", command.group(1)], capture_output=True, text=True,
                                    check=True).stdout.strip()
    good_key = _key_file(tmp_path, made["FENGQIAO_PSEUDONYM_KEY_HOST_FILE"])
    assert problems(made, good_key) == []
    # The key's file is refused when others may read it, and the key as a variable is refused outright.
    good_key.chmod(0o644)
    assert [line for line in problems(made, good_key) if "others may read it" in line]
    good_key.chmod(0o600)
    # The reason is shown whole, whatever the key's path holds (a "; " in it once cut the line short there).
    odd = tmp_path / "keys; prod"
    odd.mkdir()
    missing = [line for line in problems(made, odd / "pseudonym_key") if "FENGQIAO_PSEUDONYM_KEY_HOST_FILE" in line]
    assert len(missing) == 1 and f"{odd / 'pseudonym_key'} cannot be read (No such file or directory)" in missing[0]
    assert "python3 -c" not in missing[0].split(": make the file")[0]  # the key file's own remedy is not repeated
    as_variable = deployment_secret_problems({**{k: _interpolate(v, made) for k, v in check_env.items()},
                                              "FENGQIAO_PSEUDONYM_KEY_FILE": str(good_key),
                                              "FENGQIAO_PSEUDONYM_KEY": made["FENGQIAO_PSEUDONYM_KEY_HOST_FILE"]})
    assert len(as_variable) == 1 and "as a variable" in as_variable[0]
    assert made["FENGQIAO_PSEUDONYM_KEY_HOST_FILE"] not in as_variable[0]


def test_every_long_running_service_has_a_healthcheck_and_airflow_runs_as_no_root():
    services = load()["services"]
    for name in ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "spark-master", "spark-connect", "fengqiao-acknowledgements"):
        assert services[name].get("healthcheck", {}).get("test"), name
    assert "--job-type DagProcessorJob" in services["airflow-dag-processor"]["healthcheck"]["test"][1]
    assert "--job-type TriggererJob" in services["airflow-triggerer"]["healthcheck"]["test"][1]
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    for name in ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                 "airflow-triggerer", "fengqiao-acknowledgements"):
        user = services[name]["user"]
        assert user.startswith("${AIRFLOW_UID:-") and not user.startswith("${AIRFLOW_UID:-0}"), name
        volumes = services[name]["volumes"]
        assert "airflow-logs:/opt/airflow/logs" in volumes, name
        # Bureaus' files reach the inbox on the host; their keys come read-only from a host folder.
        assert any(v.endswith(":/data/inbox") for v in volumes) and any(":/run/fengqiao-secrets:ro" in v for v in volumes)
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    # Not root: the uid is a build argument, 50000 unless AIRFLOW_UID says otherwise (tests/deploy/test_image_user.py).
    assert "ARG FENGQIAO_UID=50000" in dockerfile and "USER ${FENGQIAO_UID}" in dockerfile
    assert "amd64" not in dockerfile and "JAVA_HOME=/opt/java" in dockerfile


def test_the_acknowledgement_receiver_serves_bureaus_with_their_keys():
    services = load()["services"]
    receiver = services["fengqiao-acknowledgements"]
    assert receiver["command"][:3] == ["python", "-m", "jobs.gold.ack_receiver"]
    assert receiver["ports"] == ["127.0.0.1:8765:8765"]
    env = receiver["environment"]
    assert env["FENGQIAO_BUREAU_KEYS"].startswith("/run/fengqiao-secrets/")
    assert env["FENGQIAO_DISPOSITIONS_DIR"].startswith("/data/inbox/")
    # The UI's admin: Airflow 3's simple auth manager writes the generated password into the logs volume.
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
