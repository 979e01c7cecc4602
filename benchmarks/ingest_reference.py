"""The reference for issue 22: raw bronze files -> silver -> core features in DuckDB and pyarrow, one process.

Not part of Fengqiao: a script a data team would write instead, doing the work the pipeline's silver and
feature stages do, so that ``benchmarks/ingest_benchmark.py`` measures the pipeline against equal work:

- the same bronze files (JSON Lines, gzip-compressed or not, CSV in UTF-8 or GB18030 by the same 64 KB test, .xlsx via openpyxl);
- every record held to the same checks (malformed line, required fields, dates, region code known in
  regions.csv, then the row-level rules compiled from the same ``expectations/*.json``), bad ones written to a
  quarantine table with their reason, line number and masked raw text;
- masking with the same rule table as :mod:`fengqiao.core.privacy`, in the same three guarded groups, in RE2
  form (DuckDB's regex engine has no look-around: the look-arounds are dropped, the scanning is the same);
  the record's own names replaced; phone numbers and names as HMAC-SHA256 pseudonyms (the same Arrow
  function as silver); dispute types by the same keyword rules; escalation words by the same lexicon;
- newest version per record (``updated_at``, then source file, then line), over every batch when the files are read
  in batches of day folders (``--batch-days``: a province's years do not fit in memory at once);
- silver written as Parquet, one folder per week, sorted by region code; then the core aggregation of
  ``pipeline_benchmark.core_sql`` (counts per feed and type, wage arrears, escalation words, repeat calls).

Not done here (the pipeline does it): the text classifier for untyped calls, Great Expectations' audit of the
written table, incremental merges and ledgers, five levels, referral and dynamics columns, atomic publishing.
The report says so beside the ratio.
"""
from __future__ import annotations

import json
import re
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOTLINE_FIELDS = ["call_id", "line", "started_at", "duration_sec", "caller_number", "caller_name", "region_code",
                  "address_text", "request_type", "topic", "satisfaction", "work_order_id", "updated_at"]


# ---------------------------------------------------------------------------------------------- rules as SQL
def re2(pattern: str) -> str:
    """``pattern`` without its look-around groups (RE2, DuckDB's engine, has none)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            depth, j, in_class = 0, i, False
            while j < len(pattern):
                c = pattern[j]
                if c == "\\":
                    j += 2
                    continue
                if in_class:
                    in_class = c != "]"
                elif c == "[":
                    in_class = True
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
            continue
        if pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


BACKREF = "\\1"  # RE2's group reference in a replacement


def masked(expr: str) -> str:
    """The privacy rules' three guarded groups over ``expr`` (already width-folded), as one SQL expression."""
    from fengqiao.core.privacy import _GROUPED

    out = expr
    for guard, rules in _GROUPED:
        applied = out
        for _, pattern, token, keep in rules:
            replacement = lit((BACKREF if keep else "") + token)
            applied = f"regexp_replace({applied}, {lit(re2(pattern))}, {replacement}, 'g')"
        out = f"(case when regexp_matches({expr}, {lit(re2(guard))}) then {applied} else {out} end)"
    return out


def folded(expr: str) -> str:
    from fengqiao.core.privacy import _FOLD_FROM, _FOLD_TO, _ZERO_WIDTH

    return f"translate({expr}, {lit(_FOLD_FROM + _ZERO_WIDTH)}, {lit(_FOLD_TO)})"


def mask_personal(expr: str, names: str | None = None) -> str:
    text = folded(expr)
    if names:  # the record's own names (up to three, as exports list them), as silver's mask_known_names
        for k in (1, 2, 3):
            name = f"trim(split_part({names}, '、', {k}))"
            text = f"(case when length({name}) >= 2 then replace({text}, {name}, '[姓名]') else {text} end)"
    return masked(text)


def keyword_type(expr: str) -> str:
    from fengqiao.core.disputes import KEYWORD_RULES

    whens = " ".join(f"when regexp_matches({expr}, {lit('|'.join(words))}) then {lit(label)}"
                     for words, label in KEYWORD_RULES)
    return f"(case {whens} end)"


def suite_checks(suite: str, column=lambda c: c) -> str:
    """The suite's first broken row-level rule as ``code:column``, or null (jobs.silver.rules, in SQL)."""
    from jobs.silver.rules import row_expectations, rule_label
    from jobs.silver.validate import suite_parameters

    params, whens = suite_parameters(), []
    for e in row_expectations(suite):
        kw, kind = e["kwargs"], e["type"]
        if kind == "expect_column_pair_values_a_to_be_greater_than_b":
            bad = f"{column(kw['column_A'])} {'<' if kw.get('or_equal') else '<='} {column(kw['column_B'])}"
        else:
            v = column(kw["column"])
            if kind == "expect_column_values_to_not_be_null":
                bad = f"{v} is null"
            elif kind == "expect_column_values_to_be_in_set":
                bad = f"{v} not in ({', '.join(lit(str(x)) for x in kw['value_set'])})"
            elif kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
                neg = "not " if kind.endswith("_to_match_regex") else ""
                bad = f"{neg}regexp_matches({v}, {lit(re2(kw['regex']).replace(chr(92) + 'd', '[0-9]'))})"
            else:
                bounds = []
                for key, op in (("min_value", "<"), ("max_value", ">")):
                    value = kw.get(key)
                    if isinstance(value, dict):
                        value = params[value["$PARAMETER"]]
                    if value is not None:
                        value = lit(str(value)) if isinstance(value, str) else str(value)
                        bounds.append(f"{v} {op} {value}")
                bad = " or ".join(bounds)
        whens.append(f"when coalesce({bad}, false) then {lit(rule_label(e))}")
    return f"(case {' '.join(whens)} end)"


# ---------------------------------------------------------------------------------------------- reading
def relative(path: Path) -> str:
    return "/".join(path.parts[-4:])  # bronze/<feed>/<day>/<file>, as silver's source_file


def csv_tables(files: list[Path], key: str, columns: list[str]):
    """CSV files as one Arrow table of strings: per-file encoding by the pipeline's test, per-file header."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from jobs.silver.raw_files import _header_of

    tables, unreadable = [], []
    for path in files:
        if path.stat().st_size == 0:
            continue
        header = _header_of(path, ("utf-8", "gb18030"), key)
        if header is None:
            unreadable.append(path)
            continue
        encoding, names = header
        try:
            t = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=encoding, column_names=names,
                                                                     skip_rows=1),
                               parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda r: "skip"),
                               convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
        except pa.ArrowInvalid:
            unreadable.append(path)
            continue
        n = t.num_rows
        cols = {c: (t.column(c) if c in names else pa.nulls(n, pa.string())) for c in columns}
        cols["source_file"] = pa.array([relative(path)] * n, pa.string())
        cols["line_no"] = pa.array(range(2, n + 2), pa.int64())
        tables.append(pa.table(cols))
    if not tables:  # a batch of empty or unreadable files
        tables = [pa.table({**{c: pa.array([], pa.string()) for c in columns},
                            "source_file": pa.array([], pa.string()), "line_no": pa.array([], pa.int64())})]
    return pa.concat_tables(tables), unreadable


def xlsx_table(files: list[Path], columns: list[str]):
    import pandas as pd
    import pyarrow as pa

    frames = []
    for path in files:
        sheet = pd.read_excel(path, dtype=str, engine="openpyxl")
        sheet.columns = [str(c).strip() for c in sheet.columns]
        frame = pd.DataFrame({c: sheet[c] if c in sheet.columns else None for c in columns})
        frame["source_file"], frame["line_no"] = relative(path), range(2, len(frame) + 2)
        frames.append(frame)
    return pa.Table.from_pandas(pd.concat(frames, ignore_index=True).astype({c: "string" for c in columns}),
                                preserve_index=False) if frames else None


# ---------------------------------------------------------------------------------------------- per feed
def checked_sql(source: str, checks: list[tuple[str, str]], select: str, suite: str, key: str) -> str:
    """Rows of ``source`` with ``_error`` (first failed check), the typed ``select`` of the good ones, their
    suite rule error, and the newest good version per key: three views, as the silver jobs' three steps."""
    error = "(case " + " ".join(f"when coalesce({bad}, false) then {lit(why)}" for bad, why in checks) + " end)"
    return f"""
create or replace temp view checked as select *, {error} as _error from {source};
create or replace temp table versions as select {select} from checked where _error is null;
create or replace temp view ruled as select *, {suite_checks(suite)} as _rule_error from versions;
create or replace temp view silver as select * exclude (_rule_error, line_no, _raw) from ruled
  where _rule_error is null
  qualify row_number() over (partition by {key} order by updated_at desc, source_file desc, line_no desc) = 1;
"""


def region_checks(code: str) -> list[tuple[str, str]]:
    return [(f"not regexp_full_match(trim({code}), '[0-9]{{12}}')", "invalid_region_code"),
            (f"(select count(*) from towns t where t.code = substr(trim({code}), 1, 9) || '000') = 0",
             "unknown_region_code")]


def readable_text_files(con, files: list[Path], scratch: Path) -> str:
    """The paths DuckDB's ``read_text`` reads for ``files``, as a SQL list, and a table ``file_names`` of each
    path's bronze name (``bronze/<feed>/<day>/<file>``, as silver's ``source_file``). ``read_text`` does not
    decompress: a gzip file (the pipeline reads them) is decompressed into ``scratch`` first, in the
    reference's time, and keeps its own name."""
    import gzip
    import shutil

    import pandas as pd

    paths, names = [], []
    for path in files:
        name = "/".join(path.parts[-4:])
        if path.name.endswith(".gz"):
            target = scratch / path.parent.name / path.name[:-3]
            target.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(path, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            path = target
        paths.append(str(path))
        names.append(name)
    con.register("file_names_df", pd.DataFrame({"path": paths, "source_file": names}))
    con.execute("create or replace temp table file_names as select * from file_names_df")
    return ", ".join(lit(p) for p in paths)


def hotline(con, files: list[Path], scratch: Path) -> None:
    listed = readable_text_files(con, files, scratch)
    con.execute(f"""
create or replace temp view lines as
select n.source_file, unnest(range(1, len(string_split(content, chr(10))) + 1)) as line_no,
       unnest(string_split(content, chr(10))) as line from read_text([{listed}]) r join file_names n on n.path = r.filename;
create or replace temp view parsed as
select source_file, line_no, line as _raw, try_cast(line as json) as j from lines where trim(line) <> '';
create or replace temp table fields as
select source_file, line_no, _raw, j is null as _malformed,
  {", ".join(f"j->>'{f}' as {f}" for f in HOTLINE_FIELDS)},
  try_cast(j->'transcript' as struct(speaker varchar, text varchar)[]) as transcript,
  try_cast(j->>'started_at' as timestamptz) as started_ts, try_cast(j->>'updated_at' as timestamptz) as updated_ts
from parsed;
-- A call without a region code is placed in the township its address names (the longest name, then the lower
-- code), as silver places it: only those calls are compared with the township names.
create or replace temp view by_address as
select f.source_file, f.line_no, first(t.code order by length(t.name) desc, t.code) as code
from fields f join towns t on contains(f.address_text, t.name)
where nullif(trim(f.region_code), '') is null group by f.source_file, f.line_no;
create or replace temp view placed as
select f.*, coalesce(nullif(trim(f.region_code), ''), a.code) as _region
from fields f left join by_address a using (source_file, line_no);""")
    text = "regexp_replace(array_to_string(list_transform(transcript, lambda t: coalesce(t.speaker, '') || ':' || coalesce(t.text, '')), chr(10)), '\\r\\n?', chr(10), 'g')"
    region = "_region"
    checks = [("_malformed", "malformed_record"), ("nullif(trim(call_id), '') is null", "missing_required_field:call_id"),
              ("started_ts is null", "unparseable_date:started_at"), ("updated_ts is null", "unparseable_date:updated_at")]
    checks += region_checks(region)
    checks += [("duration_sec is not null and try_cast(trim(duration_sec) as int) is null", "unparseable_integer:duration_sec")]
    select = f"""trim(call_id) as call_id, nullif(trim(line), '') as line, started_ts as started_at,
  try_cast(trim(duration_sec) as int) as duration_sec, hmac_hex(regexp_replace(caller_number, '[ ()（）-]', '', 'g')) as caller_key,
  {region} as region_code, substr({region}, 1, 9) || '000' as township_code, substr({region}, 1, 6) || '000000' as county_code,
  nullif(trim(request_type), '') as request_type, {mask_personal('topic', 'caller_name')} as topic,
  coalesce({keyword_type('topic')}, {keyword_type(text)}, '其他') as dispute_type,
  coalesce(regexp_matches(topic || {text}, {lit(wage_words())}), false) as is_wage_arrears,
  {mask_personal(text, 'caller_name')} as transcript_text,
  coalesce(regexp_matches(topic || chr(10) || {text}, {lit(escalation())}), false) as has_escalation_terms,
  case when try_cast(satisfaction as int) between 1 and 5 then try_cast(satisfaction as int) end as satisfaction,
  nullif(trim(work_order_id), '') as work_order_id, updated_ts as updated_at, source_file,
  cast(date_trunc('week', started_ts) as date) as week_start, line_no, _raw"""
    con.execute(checked_sql("placed", checks, select, "silver_hotline_calls", "call_id"))


def wage_words() -> str:
    from fengqiao.core.disputes import WAGE_ARREARS_WORDS

    return "|".join(WAGE_ARREARS_WORDS)


def escalation() -> str:
    from fengqiao.core.lexicon import ESCALATION_REGEX

    return ESCALATION_REGEX


def work_orders(con, files: list[Path]) -> list[Path]:
    from fengqiao.core.disputes import CATEGORY_TO_TYPE
    from jobs.silver.work_orders import COLUMNS

    table, unreadable = csv_tables(files, "order_id", COLUMNS)
    con.register("orders_raw", table)
    con.execute("create or replace temp table categories as select * from (values "
                + ", ".join(f"({lit(k)}, {lit(v)})" for k, v in CATEGORY_TO_TYPE.items()) + ") c(category, mapped)")
    ts = {c: f"try_cast(trim({c}) as timestamptz)" for c in ("created_at", "due_at", "closed_at", "updated_at")}
    checks = [("trim(order_id) = 'order_id'", "stray_header_row")]
    checks += [(f"nullif(trim({c}), '') is null", f"missing_required_field:{c}") for c in ("order_id", "created_at", "region_code", "updated_at")]
    checks += [(f"nullif(trim({c}), '') is not null and {e} is null", f"unparseable_date:{c}") for c, e in ts.items()]
    checks += region_checks("region_code")
    summary = "regexp_replace(summary, '\\r\\n?', chr(10), 'g')"
    select = f"""trim(order_id) as order_id, {ts['created_at']} as created_at, nullif(trim(channel), '') as channel,
  nullif(trim(call_id), '') as call_id, trim(region_code) as region_code, substr(trim(region_code), 1, 9) || '000' as township_code,
  substr(trim(region_code), 1, 6) || '000000' as county_code, nullif(trim(category), '') as category,
  coalesce((select mapped from categories c where c.category = trim(checked.category)),
           {keyword_type("coalesce(category, '') || ' ' || coalesce(summary, '')")}, '其他') as dispute_type,
  coalesce(regexp_matches(summary, {lit(wage_words())}), false) as is_wage_arrears, {mask_personal(summary)} as summary,
  coalesce(regexp_matches(summary, {lit(escalation())}), false) as has_escalation_terms,
  nullif(trim(urgency), '') as urgency, nullif(trim(status), '') as status, nullif(trim(assigned_unit), '') as assigned_unit,
  {ts['due_at']} as due_at, {ts['closed_at']} as closed_at, coalesce(lower(trim(is_repeat)) in ('是', 'true', '1', 'y', 'yes'), false) as is_repeat,
  nullif(trim(repeat_of), '') as repeat_of,
  case when try_cast(satisfaction as int) between 1 and 5 then try_cast(satisfaction as int) end as satisfaction,
  {ts['updated_at']} as updated_at, source_file, cast(date_trunc('week', {ts['created_at']}) as date) as week_start, line_no, _raw"""
    raw = ", ".join(f"coalesce({c}, '')" for c in COLUMNS)
    con.execute(f"create or replace temp view orders_in as select *, concat_ws(',', {raw}) as _raw from orders_raw")
    con.execute(checked_sql("orders_in", checks, select, "silver_work_orders", "order_id"))
    return unreadable


def mediation(con, files: list[Path]) -> list[Path]:
    import pyarrow as pa

    from fengqiao.core.disputes import TYPE_LABELS
    from jobs.silver.mediation_cases import COLUMNS

    csv, unreadable = csv_tables([p for p in files if p.suffix == ".csv"], "案件编号", COLUMNS)
    xlsx = xlsx_table([p for p in files if p.suffix == ".xlsx"], COLUMNS)
    con.register("cases_raw", pa.concat_tables([csv, xlsx.cast(csv.schema)]) if xlsx is not None else csv)
    raw = ", ".join(f'coalesce("{c}", \'\')' for c in COLUMNS)
    con.execute(f"""create or replace temp view cases_in as select *, concat_ws(',', {raw}) as _raw,
  "当事人姓名" || '、' || coalesce("调解员", '') as _names from cases_raw""")

    def cn_time(c: str) -> str:  # 2025-03-04, 2025/3/4, 2025年3月4日, 20250304, with an optional time
        text = f"trim(regexp_replace(regexp_replace(regexp_replace(trim({c}), '[年月/.]', '-', 'g'), '日\\s*', ' ', 'g'), 'T', ' ', 'g'))"
        return "coalesce(" + ", ".join(f"try_strptime({text}, '{f}')" for f in (
            "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d")) + ")"

    amount = "try_cast(regexp_replace(regexp_replace(trim(\"涉案金额\"), '[,，\\s¥￥元]', '', 'g'), '万$', '') as double) * (case when trim(\"涉案金额\") like '%万' then 10000 else 1 end)"
    yes = lambda c: f"case when lower(trim({c})) in ('是', 'true', '1', 'y', 'yes') then true when lower(trim({c})) in ('否', 'false', '0', 'n', 'no') then false end"
    checks = [("trim(\"案件编号\") = '案件编号'", "stray_header_row")]
    checks += [(f"nullif(trim(\"{c}\"), '') is null", f"missing_required_field:{c}") for c in ("案件编号", "纠纷类型", "行政区划代码", "受理日期", "更新时间")]
    checks += [(f"trim(\"纠纷类型\") not in ({', '.join(lit(t) for t in TYPE_LABELS)})", "unknown_dispute_type"),
               (f"{cn_time('受理日期')} is null", "unparseable_date:受理日期"),
               (f"nullif(trim(\"发生日期\"), '') is not null and {cn_time('发生日期')} is null", "unparseable_date:发生日期"),
               (f"{cn_time('更新时间')} is null", "unparseable_date:更新时间"),
               (f"nullif(trim(\"涉案金额\"), '') is not null and ({amount}) is null", "unparseable_amount"),
               ("nullif(trim(\"当事人数\"), '') is not null and try_cast(trim(\"当事人数\") as int) is null", "unparseable_integer:当事人数")]
    checks += region_checks('"行政区划代码"')
    summary = "regexp_replace(\"纠纷简介\", '\\r\\n?', chr(10), 'g')"
    first = lambda c: f"split_part(regexp_replace(trim({c}), '[、,，;；/\\s]+', '、', 'g'), '、', 1)"
    select = f"""trim("案件编号") as case_id, trim("纠纷类型") as dispute_type, nullif(trim("纠纷来源"), '') as case_source,
  trim("行政区划代码") as region_code, substr(trim("行政区划代码"), 1, 9) || '000' as township_code,
  substr(trim("行政区划代码"), 1, 6) || '000000' as county_code, cast({cn_time('受理日期')} as date) as accepted_date,
  cast({cn_time('发生日期')} as date) as occurred_date, try_cast(trim("当事人数") as int) as party_count, {amount} as amount_yuan,
  {yes('"涉及农民工"')} as involves_migrant_workers, {yes('"民转刑倾向"')} as criminal_tendency, {yes('"群体性倾向"')} as group_tendency,
  nullif(trim("调解组织"), '') as mediation_org, hmac_hex(trim("调解员")) as mediator_key, nullif(trim("调解结果"), '') as result,
  nullif(trim("案件状态"), '') as status, {mask_personal(summary, '_names')} as summary,
  coalesce(regexp_matches({summary}, {lit(escalation())}), false) as has_escalation_terms,
  hmac_hex(coalesce(nullif(regexp_replace({first('"当事人电话"')}, '[ ()（）-]', '', 'g'), ''), {first('"当事人姓名"')})) as party_key,
  {cn_time('更新时间')} as updated_at, source_file, cast(date_trunc('week', {cn_time('受理日期')}) as date) as week_start, line_no, _raw"""
    con.execute(checked_sql("cases_in", checks, select, "silver_mediation_cases", "case_id"))
    return unreadable


# ---------------------------------------------------------------------------------------------- the run
def quarantined_sql(feed: str, json_fields: bool) -> str:
    """The feed's rejected records (first failed check, then suite rule) with their masked raw text."""
    from fengqiao.core.privacy import _JSON_FIELD_RULES

    raw = "_raw"
    if json_fields:
        for _, pattern, token, keep in _JSON_FIELD_RULES:
            raw = f"regexp_replace({raw}, {lit(re2(pattern))}, {lit((BACKREF if keep else '') + token)}, 'g')"
    raw = mask_personal(raw)
    return f"""select '{feed}' as feed, source_file, line_no, _error as reason, {raw} as raw_masked from checked
               where _error is not null
               union all
               select '{feed}', source_file, line_no, _rule_error, {raw} from ruled where _rule_error is not null"""


def written_counts(con, out: Path, table: str, quarantine_files: str) -> dict:
    """Rows of the silver table written and of the quarantine files (a glob under ``out/quarantine``)."""
    rows = con.execute(f"select count(*) from read_parquet('{out / 'silver' / table}/*/*.parquet')").fetchall()[0][0]
    rejected = con.execute(f"select count(*) from read_parquet('{out / 'quarantine'}/{quarantine_files}')").fetchall()[0][0]
    return {"rows": rows, "quarantined": rejected}


def write_feed(con, out: Path, table: str, feed: str, json_fields: bool) -> dict:
    """Silver (one folder per week, sorted by region code) and the feed's quarantine, from the views above."""
    con.execute(f"""copy (select * from silver order by week_start, region_code)
                    to '{out / 'silver' / table}' (format parquet, partition_by (week_start), overwrite_or_ignore)""")
    con.execute(f"copy ({quarantined_sql(feed, json_fields)}) to '{out / 'quarantine' / feed}.parquet' (format parquet)")
    return written_counts(con, out, table, f"{feed}.parquet")


def stage_batch(con, out: Path, table: str, feed: str, batch: int, json_fields: bool) -> None:
    """One batch of a feed's files: its checked, masked versions (before the newest-version pick, which needs
    every batch) to ``_staged``, its rejects to the quarantine, from the views above."""
    staged = out / "_staged" / table
    staged.mkdir(parents=True, exist_ok=True)
    con.execute(f"""copy (select * exclude (_rule_error, _raw) from ruled where _rule_error is null)
                    to '{staged / f'batch-{batch:04d}.parquet'}' (format parquet)""")
    con.execute(f"copy ({quarantined_sql(feed, json_fields)}) to '{out / 'quarantine' / f'{feed}-batch-{batch:04d}.parquet'}' "
                "(format parquet)")


def finish_batches(con, out: Path, table: str, feed: str, key: str) -> dict:
    """The newest version per record over every batch (picked on the narrow key columns, then the rows
    themselves), written as silver per week, as :func:`write_feed` writes one batch."""
    import shutil

    staged = f"read_parquet('{out / '_staged' / table}/*.parquet')"
    con.execute(f"""create or replace temp table newest as select {key}, source_file, line_no from {staged}
  qualify row_number() over (partition by {key} order by updated_at desc, source_file desc, line_no desc) = 1""")
    con.execute(f"""copy (select s.* exclude (line_no) from {staged} s semi join newest n using ({key}, source_file, line_no)
                          order by week_start, region_code)
                    to '{out / 'silver' / table}' (format parquet, partition_by (week_start), overwrite_or_ignore)""")
    shutil.rmtree(out / "_staged" / table)
    return written_counts(con, out, table, f"{feed}-batch-*.parquet")


def batches_of_days(files: list[Path], days: int | None) -> list[list[Path]]:
    """``files`` (``<feed>/<day>/<file>``) in batches of ``days`` consecutive day folders; one batch if None."""
    if not days:
        return [files]
    folders = sorted({p.parent.name for p in files})
    starts = {d: i // days for i, d in enumerate(folders)}
    out: dict[int, list[Path]] = {}
    for p in files:
        out.setdefault(starts[p.parent.name], []).append(p)
    return [out[k] for k in sorted(out)]


def run(bronze: Path, regions_csv: Path, out: Path, key: bytes, threads: int = 2, echo=print,
        batch_days: int | None = None, memory_limit: str | None = None) -> dict:
    """Every feed, then the core features; returns seconds per step and row counts.

    ``batch_days``: read and check a feed's files ``batch_days`` day folders at a time (a province's years do
    not fit in memory at once), then pick the newest version per record over all batches; None: all at once.
    """
    import shutil

    import duckdb
    import pyarrow as pa

    from fengqiao.core.pseudonyms import hmac_hex
    from fengqiao.core.regions import read_regions

    shutil.rmtree(out, ignore_errors=True)
    (out / "quarantine").mkdir(parents=True)
    (out / "silver").mkdir()
    con = duckdb.connect()
    con.execute(f"set threads to {threads}; set preserve_insertion_order = false; set TimeZone = 'Asia/Shanghai'")
    con.execute(f"set temp_directory = {lit(str(out / '_spill'))}")
    if memory_limit:
        con.execute(f"set memory_limit = {lit(memory_limit)}")
    con.create_function("hmac_hex", lambda values: pa.array(hmac_hex(key, values.to_pandas())), ["VARCHAR"], "VARCHAR",
                        type="arrow")
    towns = read_regions(regions_csv)
    towns = towns[towns["level"] == "township"][["code", "name"]].astype(str)
    con.register("towns_df", towns)
    con.execute("create temp table towns as select * from towns_df")
    steps, counts = {}, {}
    scratch = out / "_gunzip"
    feeds = (("hotline", "hotline_calls", partial(hotline, scratch=scratch), (".jsonl", ".json", ".jsonl.gz", ".json.gz"), "call_id"),
             ("workorders", "work_orders", work_orders, (".csv",), "order_id"),
             ("mediation", "mediation_cases", mediation, (".csv", ".xlsx"), "case_id"))
    for feed, table, build, suffixes, key_column in feeds:
        t0 = time.perf_counter()
        files = sorted(p for p in (bronze / feed).glob("*/*") if p.name.endswith(suffixes) and not p.name.startswith("."))
        batches = batches_of_days(files, batch_days)
        if len(batches) == 1:
            build(con, files)
            counts[feed] = write_feed(con, out, table, feed, json_fields=feed == "hotline")
        else:
            for k, part in enumerate(batches):
                build(con, part)
                stage_batch(con, out, table, feed, k, json_fields=feed == "hotline")
                shutil.rmtree(scratch, ignore_errors=True)
                if k % 10 == 9:
                    echo(f"[reference] silver:{feed}: batch {k + 1}/{len(batches)}, {time.perf_counter() - t0:.0f} s")
            counts[feed] = finish_batches(con, out, table, feed, key_column)
        shutil.rmtree(scratch, ignore_errors=True)
        steps[f"silver:{feed}"] = time.perf_counter() - t0
        echo(f"[reference] silver:{feed}: {steps[f'silver:{feed}']:.1f} s, {counts[feed]}")
    t0 = time.perf_counter()
    from benchmarks.pipeline_benchmark import core_sql

    for view, table in (("calls", "hotline_calls"), ("orders", "work_orders"), ("cases", "mediation_cases")):
        con.execute(f"create or replace view {view} as select * from read_parquet('{out / 'silver' / table}/*/*.parquet', hive_partitioning = true)")
    sql, _ = core_sql("datediff('day', DATE '1970-01-05', week_start) // 7")
    con.execute(f"copy ({sql}) to '{out / 'features.parquet'}' (format parquet)")
    steps["features"] = time.perf_counter() - t0
    echo(f"[reference] features: {steps['features']:.1f} s")
    return {"seconds": steps, "counts": counts}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, help="a lake whose bronze/ and reference/ are read")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-days", type=int, help="day folders per batch (a province's years); default: all at once")
    ap.add_argument("--memory-limit", help="DuckDB's memory_limit, e.g. 8GB (it spills to OUT/_spill beyond it)")
    a = ap.parse_args()
    lake = Path(a.lake)
    result = run(lake / "bronze", lake / "reference" / "regions.csv", Path(a.out), b"reference-key",
                 echo=partial(print, flush=True), batch_days=a.batch_days, memory_limit=a.memory_limit)
    (Path(a.out) / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
