"""The one Spark session of a process.

Starting Spark costs 8-10 s, so a process (a CLI run, an Airflow worker, the test session) makes
one and every job reuses it. ``SPARK_MASTER`` chooses the engine: ``local[2]`` by default, or a
standalone cluster such as ``spark://host:7077`` with no code change.

:func:`spark_conf` is the single list of properties: the in-process session applies it through the
builder, and the Airflow tasks that submit to a cluster (``fengqiao.orchestration.spark_stage``)
pass the same dict to ``spark-submit``, where driver-side settings (memory, JVM options) only take
effect if given before the driver's JVM starts.
"""
from __future__ import annotations

import gc
import importlib.util
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

from fengqiao.core.keys import ensure_secret_file, read_secret_file
from fengqiao.core.settings import CONNECT_TOKEN_FILE, Settings

_lock = threading.Lock()
_JIT_HUGE_METHODS = "-XX:-DontCompileHugeMethods"
# G1 keeps the heap it grew until the JVM ends: after the silver jobs of a province the driver held its full 4 GB
# while the features ran beside it (6.1 GB in the process tree). With these ratios a full collection (see
# release_memory) hands back all but what leaves 30% of the heap free, instead of 70% (the default); the next
# stage grows it again as it needs (same time on a 2-year feature build, 12.3 s against 12.1 s; its committed
# heap 3.3 GB instead of 4.3 GB).
_RETURN_FREE_HEAP = "-XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30"


def is_cluster_master(master: str) -> bool:
    """True for a master that is not this process (``spark://``, ``yarn``, ``k8s://``), False for ``local[...]``."""
    return not master.strip().lower().startswith("local")


def spark_conf(settings: Settings) -> dict[str, str]:
    """Spark properties of every Fengqiao session, local or on a cluster."""
    conf = {
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": settings.timezone,
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.sql.parquet.compression.codec": "zstd",
        # Instants as UTC-adjusted INT64 micros (not legacy INT96): DuckDB and pyarrow then read
        # them as time-zone-aware timestamps, and analysts see Beijing time, not UTC clock time.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "false",
        # Spark 4 only reads GB18030 (the mediation registry's encoding) with the JDK's full charset list.
        "spark.sql.legacy.javaCharsets": "true",
        # The silver jobs keep their checked records for the quarantine's job (a local checkpoint: memory,
        # then local disk); compressed, a province backfill's transcripts take a fraction of the disk.
        "spark.rdd.compress": "true",
        # Spark lists a table's folders with a distributed job once there are more than 32 of them (one
        # per week: every table after 32 weeks), a job per read that cost 1.3-3.0 s against 0.4-0.6 s
        # listed by the driver (53 weeks of silver). A weekly run reads its tables a dozen times, so a
        # year of history added ~15 s to it. The lake is a local or shared file system: the driver lists it.
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
        # HotSpot never JIT-compiles a method over 8,000 bytes of bytecode unless told to; whole-stage
        # codegen emits such methods for the silver stages (masking rules, many columns), which then ran
        # interpreted: silver hotline on 1.04 M calls took 188 s, 144 s with this flag (its quarantine
        # pass 54 s, 17 s).
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC {_JIT_HUGE_METHODS} {_RETURN_FREE_HEAP}",
        "spark.executor.extraJavaOptions": f"-Duser.timezone=UTC {_JIT_HUGE_METHODS}",
        # Python workers (mapInPandas of the text models) must run this environment's interpreter with its
        # pandas, scikit-learn and jieba, not whatever python3 comes first on PATH. spark-submit (the
        # cluster path) reads these; an in-process session reads $PYSPARK_PYTHON, set in get_spark. On a
        # cluster the image puts the same locked environment at the same path on every node.
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON") or sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if is_cluster_master(settings.spark_master):
        conf["spark.executor.memory"] = settings.spark_executor_memory
        if settings.spark_cores_max:
            conf["spark.cores.max"] = str(settings.spark_cores_max)
        if settings.spark_driver_host:
            # Executors connect back to the driver: it must listen on an address they can reach.
            conf["spark.driver.host"] = settings.spark_driver_host
            conf["spark.driver.bindAddress"] = settings.spark_driver_host
    return conf


def _prepare_network(settings: Settings) -> None:
    if not is_cluster_master(settings.spark_master):
        # Loopback unless told otherwise: a laptop's public interface is not where Spark should listen.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    elif os.environ.get("SPARK_LOCAL_IP") == "":
        # Set but empty (a compose file's placeholder): Spark would resolve "" to loopback, which
        # executors on other machines cannot reach. Unset, Spark picks a non-loopback address.
        del os.environ["SPARK_LOCAL_IP"]


def get_spark(app_name: str = "fengqiao", settings: Settings | None = None):
    """Return the process's SparkSession, creating it on first use with ``settings`` (the stage's).

    Without settings (a test session, a benchmark) the process's environment describes the session.
    """
    from pyspark.sql import SparkSession  # heavy: only where a session is made, not where the DAGs read spark_conf

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        settings = settings or Settings.from_env()
        if settings.spark_remote:
            return _connect_session(settings)
        _prepare_network(settings)
        # PySpark starts Python workers with $PYSPARK_PYTHON, else "python3" from PATH, which need not be
        # this environment (spark-submit sets the variable from spark.pyspark.python itself).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder
        if "PYSPARK_GATEWAY_PORT" not in os.environ:
            # Under spark-submit (which starts the JVM and sets the gateway port) the submitter's
            # --name (e.g. the Airflow task's) names the application; keep it.
            builder = builder.appName(app_name)
        for key, value in spark_conf(settings).items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def _connect_session(settings: Settings):
    """A client session of the Spark Connect server ``settings.spark_remote``. The server's own options (driver
    memory, JVM options) are set where it starts (docs/operations.md); the session's SQL options are set here, the
    same as a local session's."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(connect_url(settings)).getOrCreate()
    for key, value in spark_conf(settings).items():
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    return spark


# A Connect server runs whatever code its clients send, with its own rights: it reads bronze and, on its Python
# workers, the pseudonym key. On loopback it demands a token (any user of the machine reaches loopback); elsewhere
# only a private network keeps others out (PySpark's clients send a token only over TLS, or to "localhost").
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
CONNECT_PORT = 15002
# The server reads its token from this variable (PySpark's own), so that it is in no process listing.
CONNECT_TOKEN_VARIABLE = "SPARK_CONNECT_AUTHENTICATE_TOKEN"
CONNECT_TOKEN_HINT = "start the server with `fengqiao spark-connect-server`, which makes it"


def connect_token_file(settings: Settings) -> Path:
    """The token file of a loopback Connect server (FENGQIAO_SPARK_CONNECT_TOKEN_FILE, else under the home)."""
    return settings.spark_connect_token_file or settings.home / CONNECT_TOKEN_FILE


def _read_connect_token(path: Path) -> str:
    return read_secret_file(path, "Spark Connect token file", CONNECT_TOKEN_HINT)


def connect_url(settings: Settings) -> str:
    """``SPARK_REMOTE`` as a client dials it: a server on loopback as ``localhost`` with its token (PySpark sends a
    token without TLS only there), any other server as given."""
    remote = settings.spark_remote or ""
    parsed = urllib.parse.urlparse("http" + remote[2:]) if remote.startswith("sc://") else None
    if parsed is None or parsed.hostname not in LOOPBACK_HOSTS or "token=" in parsed.params:
        return remote
    token = _read_connect_token(connect_token_file(settings))
    params = ";".join(part for part in (parsed.params, f"token={token}") if part)
    return f"sc://localhost:{parsed.port or CONNECT_PORT}/;{params}"


def pyspark_home() -> str:
    """The installed pyspark package's folder, which is a SPARK_HOME (bin/, jars/), found without importing it."""
    return importlib.util.find_spec("pyspark").submodule_search_locations[0]


def connect_server_command(settings: Settings, port: int = CONNECT_PORT, host: str = "127.0.0.1") -> list[str]:
    """The command that starts a Spark Connect server for these settings: ``spark-submit`` of PySpark's own
    ``SparkConnectServer`` with the options a local session gets (driver memory, JVM options, time zone, codecs),
    listening on ``host:port`` only. Run it with :func:`connect_server_environment` added to its environment
    (``fengqiao spark-connect-server`` does both) and keep it running; the stages reach it with
    ``SPARK_REMOTE=sc://localhost:port`` (or the host's name off loopback)."""
    # The package's own bin/spark-submit finds its SPARK_HOME (the package) by its own path; the copy in the
    # environment's bin/ asks whichever python3 comes first on PATH.
    submit = os.path.join(pyspark_home(), "bin", "spark-submit")
    conf = spark_conf(settings)
    options = [part for key, value in conf.items() if key != "spark.master" for part in ("--conf", f"{key}={value}")]
    return [submit, "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--name", "fengqiao-connect",
            "--master", settings.spark_master, *options,
            "--conf", f"spark.connect.grpc.binding.address={host}", "--conf", f"spark.connect.grpc.binding.port={port}",
            # Warnings and errors only: at INFO the server logs every RPC's session access and every file it scans
            # (~100 kB a silver job), a container log that grows all year.
            "--conf", "spark.log.level=WARN",
            "spark-internal"]


def connect_server_environment(settings: Settings, host: str = "127.0.0.1") -> dict[str, str]:
    """Variables the server's command needs: its Python workers' interpreter, on loopback its token (the token file
    is made on the first start), and with a local master loopback for Spark's own services (as a local session)."""
    # The server starts the Python workers of the UDFs (pseudonyms, text models) with $PYSPARK_PYTHON, else python3
    # from PATH: it must be this environment's interpreter, with its pandas, scikit-learn and jieba.
    env = {"PYSPARK_PYTHON": spark_conf(settings)["spark.pyspark.python"]}
    if host in LOOPBACK_HOSTS:
        env[CONNECT_TOKEN_VARIABLE] = _read_connect_token(ensure_secret_file(connect_token_file(settings)))
    if not is_cluster_master(settings.spark_master) and not os.environ.get("SPARK_LOCAL_IP"):
        # A local master's driver RPC and block manager serve no other machine (only the gRPC port may, --host).
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


def stop_spark(release_jvm: bool = False) -> None:
    """Stop the process's session. ``release_jvm``: also end the JVM that this process started for it, which
    PySpark otherwise keeps for the next session together with the heap it grew (gigabytes after a province's
    silver jobs); the next :func:`get_spark` starts a new one. A JVM that started this process (spark-submit)
    is left alone."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession  # heavy: see get_spark

    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
        from pyspark.sql.utils import is_remote

        if is_remote():  # a Connect client: the JVM is the server's, and it stays
            return
        gateway = SparkContext._gateway
        proc = getattr(gateway, "proc", None)
        if release_jvm and proc is not None:
            gateway.shutdown()
            proc.stdin.close()  # the gateway JVM exits when its parent's pipe closes
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            SparkContext._gateway = None
            SparkContext._jvm = None


def release_memory(spark) -> None:
    """Let go of what a finished stage kept in the driver: drop every persisted block (the jobs' local
    checkpoints: a province hotline's records are gigabytes, and Spark keeps them until the session ends) and run
    a full collection, after which G1 returns the freed heap to the system (``_RETURN_FREE_HEAP``; it uncommits in
    the background within seconds). Measured on a 2-year feature build: the driver JVM's resident memory 3.8 GB
    before, 0.6 GB after. A Spark Connect client holds no JVM: the server drops a checkpoint when the client's
    frame that holds it is garbage-collected (or the session ends), so a collection here lets it go."""
    from pyspark.sql.utils import is_remote

    if is_remote():
        gc.collect()
        return
    for rdd in spark.sparkContext._jsc.getPersistentRDDs().values():
        rdd.unpersist(True)  # blocking: the collection below must find the blocks gone
    spark.sparkContext._jvm.System.gc()


def literal_path(path) -> str:
    """``path`` for a Spark reader, with the glob characters of its name escaped.

    Spark expands ``[ ] { } * ?`` in the paths it is given: ``orders[1].csv`` would read ``orders1.csv``
    (or fail when there is none), and a lake under ``/data/lake[prod]`` would find no table at all.
    A backslash makes each a plain character.
    """
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", str(path))


def read_parquet(spark, paths, schema=None, base_path=None):
    """The Parquet files or folders ``paths`` (one path or several) as one DataFrame, read as named.

    ``schema`` fixes the columns (an empty or older folder then reads with the table's types);
    ``base_path`` keeps the partition column (``week_start``) when only some partition folders are
    read. The base path is compared with the folders found, so it stays unescaped.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    reader = spark.read
    if schema is not None:
        reader = reader.schema(schema)
    if base_path is not None:
        reader = reader.option("basePath", str(base_path))
    return reader.parquet(*[literal_path(p) for p in paths])
