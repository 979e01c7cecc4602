"""Analysts' access: the tables of one role in a locked, in-memory DuckDB connection.

Roles (least privilege; ``docs/example-questions.md`` describes them for analysts):

- ``province`` (the default): every gold table, every region. What an analyst of the provincial justice
  department works with: scores, alerts, features and feed health of the whole province, no records.
- ``county``: the gold rows of one county (given by its 6-digit code, e.g. ``370102``), in every gold table
  that carries a region code (``county_code``, else the ``region_code`` of a township or county).
- ``steward``: gold and silver (silver is masked). The quarantine's ``raw_masked`` column is left out: a
  malformed line is masked by patterns only (its name field could not be parsed), so it may keep a name.

Never reachable by any role: bronze, the model registry, reference files, outputs, staging, the process
environment and any other file. How: DuckDB never opens a file itself. Each table is a pyarrow dataset
registered by Python (read lazily, with DuckDB's column and filter push-down); a county's datasets carry
the county filter inside them, so no SQL can remove it. The connection is opened with external access
off (``read_parquet``, ``read_text``, ``COPY … TO``, ``ATTACH`` of a file, ``INSTALL``/``LOAD`` all fail),
no extension auto-loading, no temp directory (DuckDB allows its temp directory even without external
access), no Python replacement scans, and its configuration locked, so no ``SET`` gives any of it back.
``allowed_directories`` is not used: it would let SQL read every file of a folder (a county analyst the
whole gold table) and write into it with ``COPY … TO``.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from fengqiao.app.datadict import table_schemas
from fengqiao.core.spark import read_parquet

PROVINCE, COUNTY, STEWARD = "province", "county", "steward"
ROLES = (PROVINCE, COUNTY, STEWARD)
DEFAULT_ROLE = PROVINCE
LAYERS = {PROVINCE: ("gold",), COUNTY: ("gold",), STEWARD: ("gold", "silver")}
# Columns no role reads: the quarantine's raw line (see the module docstring).
HIDDEN_COLUMNS = {"quarantine": ("raw_masked",)}
# Set before the lock; external access off makes DuckDB refuse every file, extension and attached database.
LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "temp_directory": "",
    "python_enable_replacements": False,
}
_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]*")  # not `_staging`, `.x`, nor an interrupted publish's `t.previous`


class AccessError(ValueError):
    """A role or county that cannot be granted (unknown role, missing or malformed county code)."""


@dataclass(frozen=True)
class Access:
    """A role and, for the county role, the county's 6-digit code."""

    role: str = DEFAULT_ROLE
    county: str | None = None

    def describe(self) -> str:
        if self.role == COUNTY:
            return f"county analyst of {self.county} (gold rows of the county)"
        if self.role == STEWARD:
            return "data steward (gold and masked silver)"
        return "province analyst (gold tables, every region)"


def access_for(role: str | None = None, county: str | None = None, lake_dir: str | Path | None = None) -> Access:
    """Check a requested role; a county alone means the county role. With ``lake_dir``, a county must be a
    county of the lake's ``reference/regions.csv`` when the lake has one."""
    if role is None:
        role = COUNTY if county else DEFAULT_ROLE
    role = role.strip().lower()
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    if role != COUNTY:
        if county:
            raise AccessError(f"a county is only given with the county role, not with {role}")
        return Access(role)
    if not county:
        raise AccessError("the county role needs the county's 6-digit code, e.g. 370102")
    code = county.strip()
    if re.fullmatch(r"\d{6}0{6}", code):
        code = code[:6]
    if not re.fullmatch(r"\d{6}", code) or code.endswith("00"):
        raise AccessError(f"county code {county!r} is not a county's 6-digit code (e.g. 370102)")
    if lake_dir is not None:
        _check_county_listed(Path(lake_dir), code)
    return Access(COUNTY, code)


def _check_county_listed(lake_dir: Path, code: str) -> None:
    regions = lake_dir / "reference" / "regions.csv"
    if not regions.is_file():
        return
    with regions.open(encoding="utf-8", newline="") as handle:
        counties = {row.get("code") for row in csv.DictReader(handle) if row.get("level") == "county"}
    if f"{code}000000" not in counties:
        raise AccessError(f"{code} is not a county of the lake's reference/regions.csv")


def connect(lake_dir: str | Path, role: str | Access | None = None, county: str | None = None):
    """A locked in-memory DuckDB connection holding exactly the role's tables, each a view of its name.

    ``role`` is ``province`` (default), ``county`` (with ``county``) or ``steward``, or an :class:`Access`.
    Instants are stored in UTC; analysts read and cut them (days, weeks, months) in Beijing time.
    """
    import duckdb  # loaded by the commands that query, not by every `fengqiao` start

    lake_dir = Path(lake_dir).resolve()
    access = role if isinstance(role, Access) else access_for(role, county, lake_dir)
    con = duckdb.connect(config=LOCKED_CONFIG)
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    refresh(con, lake_dir, access)
    con.execute("SET lock_configuration = true")
    return con


def refresh(con, lake_dir: str | Path, access: Access, registered=()) -> list[str]:
    """Register the role's tables as they are now in the lake (a publish since replaced their files) and
    drop those of ``registered`` (the names of the last refresh) that are gone; return the names."""
    current = dict(role_datasets(lake_dir, access))
    for name in set(registered) - set(current):
        con.unregister(name)
    for name, dataset in current.items():
        con.register(name, dataset)
    return sorted(current)


def lake_version(lake_dir: str | Path, access: Access) -> tuple:
    """Modification times of the role's layer, table and partition folders: every publish (a folder
    renamed into place) changes one, so a long session knows when to :func:`refresh`."""
    stamps = []
    for layer in LAYERS[access.role]:
        base = Path(lake_dir) / layer
        folders = [base, *(p for p in base.glob("*/") if _TABLE_NAME.fullmatch(p.name))] if base.is_dir() else []
        for folder in folders:
            stamps += [(str(p), _mtime(p)) for p in (folder, *folder.glob("*=*/"))]
    return tuple(stamps)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # renamed away by a publish in progress: the next look sees the new folder
        return None


def role_datasets(lake_dir: str | Path, access: Access):
    """(name, pyarrow dataset) of every table the role reads, filtered to its county for the county role."""
    for layer in LAYERS[access.role]:
        for name, folder in _table_folders(Path(lake_dir), layer):
            dataset = _table_dataset(folder, HIDDEN_COLUMNS.get(name, ()))
            if access.role == COUNTY:
                scope = county_filter(dataset.schema.names, access.county)
                if scope is None:
                    continue  # a table without region codes cannot be cut to a county
                dataset = dataset.filter(scope)
            yield name, dataset


def county_filter(columns, county: str):
    """A pyarrow expression keeping the rows of ``county`` (6 digits); None without a region column.

    ``county_code`` is the 12-digit county code; a ``region_code`` (township or county) is in the county
    when it starts with its 6 digits: codes are digit strings, so those are the ones between the 6 digits
    and the 6 digits followed by ``:`` (the character after ``9``), a range that row-group statistics prune.
    """
    import pyarrow.dataset as ds  # pyarrow.dataset loads pandas (seconds): not at every `fengqiao` start

    if "county_code" in columns:
        return ds.field("county_code") == f"{county}000000"
    if "region_code" in columns:
        return (ds.field("region_code") >= county) & (ds.field("region_code") < f"{county}:")
    return None


def _table_folders(lake_dir: Path, layer: str):
    """(name, folder) of every table of a layer holding Parquet."""
    base = lake_dir / layer
    if not base.is_dir():
        return
    for folder in sorted(base.iterdir()):
        if folder.is_dir() and _TABLE_NAME.fullmatch(folder.name) and _parquet_files(folder):
            yield folder.name, folder


def _parquet_files(folder: Path) -> list[Path]:
    """The table's Parquet files, not those under hidden or ``_`` folders, nor other files (the silver
    jobs' ``_merged_files.pq`` ledger, Spark's ``_SUCCESS`` and ``.crc`` files)."""
    return [p for p in sorted(folder.rglob("*.parquet"))
            if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)]


def _table_dataset(folder: Path, hidden: tuple[str, ...] = ()):
    """A table's Hive-partitioned Parquet as one pyarrow dataset; ``week_start`` a date, other partition
    columns text. The schema is the union of the files' (older partitions may lack newer columns, a
    pandas-written column may be all null in one week), without the ``hidden`` columns."""
    import pyarrow as pa  # see county_filter
    import pyarrow.dataset as ds

    files = _parquet_files(folder)
    keys = list(dict.fromkeys(part.partition("=")[0] for path in files
                              for part in path.relative_to(folder).parts[:-1] if "=" in part))
    partitioning = ds.partitioning(
        pa.schema([(k, pa.date32() if k == "week_start" else pa.string()) for k in keys]), flavor="hive")
    paths = [str(p) for p in files]

    def dataset(schema=None):
        return ds.dataset(paths, format="parquet", partitioning=partitioning, partition_base_dir=str(folder),
                          schema=schema)

    schema = pa.unify_schemas([f.physical_schema for f in dataset().get_fragments()] + [partitioning.schema],
                              promote_options="permissive")
    for column in hidden:
        if column in schema.names:
            schema = schema.remove(schema.get_field_index(column))
    return dataset(schema)


def explain_error(exc: Exception, access: Access, tables: list[str] | None = None) -> str:
    """One line for an analyst whose SQL failed: DuckDB's first line, and what the role may read when the
    statement reached for a file, an extension, a setting or a table outside the role."""
    import duckdb  # see connect

    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in first:
        return f"not allowed for the {access.describe()}: {first}"
    if isinstance(exc, duckdb.CatalogException) and "Table with name" in first and tables is not None:
        return f"{first} (the {access.describe()} reads: {', '.join(tables) or 'no tables'})"
    return first


def table_names(con) -> list[str]:
    """The tables (views) of a connection, sorted."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_type = 'VIEW' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


def register_spark_views(spark, lake_dir: str | Path) -> list[str]:
    """Create a Spark temp view per silver and gold table (the names of the DuckDB views; no roles: Spark
    users are the pipeline's engineers, who read the lake's files anyway).

    Partition columns (``week_start``, the quarantine's ``feed``) come from the folder names. Tables
    documented in ``fengqiao.app.datadict`` get the published types: pandas-written gold tables store
    nanosecond timestamps and all-null columns that Spark cannot type on its own, so this sets
    ``spark.sql.legacy.parquet.nanosAsLong`` (such columns then read as nanoseconds, converted back to
    timestamps here) and casts every column to its schema type. Returns the view names, sorted.
    """
    from pyspark.sql import functions as F  # Spark: only for the Spark SQL views, never at `fengqiao` start
    from pyspark.sql import types as T

    lake_dir = Path(lake_dir).resolve()
    schemas = table_schemas()
    # Only TIMESTAMP(NANOS) columns change: without the flag Spark refuses to read them at all.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    names = []
    for name, folder in (t for layer in ("silver", "gold") for t in _table_folders(lake_dir, layer)):
        df = read_parquet(spark, folder, base_path=folder)
        expected = schemas.get(name)
        if expected is not None:
            types = {f.name: f.dataType for f in expected.fields}
            columns = []
            for field in df.schema.fields:
                want = types.get(field.name)
                col = F.col(f"`{field.name}`")
                if want is None or want == field.dataType:
                    columns.append(col)
                elif isinstance(want, T.TimestampType) and isinstance(field.dataType, T.LongType):
                    columns.append(F.timestamp_micros(F.floor(col / 1000).cast("long")).alias(field.name))
                else:
                    columns.append(col.cast(want).alias(field.name))
            df = df.select(*columns)
        df.createOrReplaceTempView(name)
        names.append(name)
    return sorted(names)
