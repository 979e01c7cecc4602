"""``fengqiao shell``: an interactive SQL prompt over the DuckDB views of one analyst role's tables.

SQL runs when a statement ends with ``;`` (it may span lines). Dot commands, at the start of a line:

    .tables            the views (the role's tables) with their row counts
    .schema TABLE      the columns of a view, with types and meanings (docs/data-dictionary.md)
    .maxrows N         rows printed at most (default 50)
    .help              this list
    .quit / .exit      leave (so does end of input, Ctrl-D)

``run_shell(lake_dir, stdin, stdout, access)`` reads commands from any text stream, so it is testable by
feeding input; prompts are printed only when ``stdin`` is a terminal. The connection is
:func:`fengqiao.app.analyst.connect`'s: only the role's tables, no files, extensions or settings.
"""
from __future__ import annotations

import math
import sys
import unicodedata
from pathlib import Path
from typing import TextIO

from fengqiao.app.analyst import Access, connect, explain_error, lake_version, refresh, table_names
from fengqiao.core.column_docs import COLUMN_DOCS, TABLES

DEFAULT_MAX_ROWS = 50
MAX_CELL = 60  # characters shown of a long text cell (wide characters count two)
PROMPT, CONTINUATION = "fengqiao> ", "      ..> "

HELP = """\
SQL statements end with ';' and may span several lines. Commands:
  .tables            list the views (the tables your role reads)
  .schema TABLE      columns of a view with types and meanings
  .maxrows N         print at most N rows (now {max_rows})
  .help              this help
  .quit              leave (.exit and Ctrl-D too)"""


def _width(text: str) -> int:
    """Terminal columns of ``text``: wide (Chinese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _text(value, limit: int = MAX_CELL) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        text = "[" + ", ".join(_text(v, limit) for v in value) + "]"
    else:
        text = str(value)
    text = text.replace("\n", "⏎")
    if _width(text) > limit:
        while _width(text) > limit - 1:
            text = text[:-1]
        text += "…"
    return text


def format_rows(columns: list[str], rows: list[tuple], max_rows: int) -> str:
    """An aligned text table (numbers right, text left; wide characters counted double) and a row count."""
    if not columns:
        return "(no columns)"
    shown = [[_text(v) for v in row] for row in rows[:max_rows]]
    numeric = [all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) or row[i] is None
                   for row in rows[:max_rows]) and any(row[i] is not None for row in rows[:max_rows])
               for i in range(len(columns))]
    widths = [max([_width(c)] + [_width(r[i]) for r in shown]) for i, c in enumerate(columns)]

    def cell(text: str, i: int) -> str:
        pad = " " * (widths[i] - _width(text))
        return pad + text if numeric[i] else text + pad

    lines = [" | ".join(cell(c, i) for i, c in enumerate(columns)).rstrip(),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(cell(v, i) for i, v in enumerate(r)).rstrip() for r in shown]
    n = len(rows)
    lines.append(f"({n} row{'s' if n != 1 else ''}" + (f", {max_rows} shown)" if n > max_rows else ")"))
    return "\n".join(lines)


class _Shell:
    def __init__(self, lake_dir: Path, out: TextIO, access):
        self.lake_dir, self.access = lake_dir, access
        self.version = lake_version(lake_dir, access)
        self.con = connect(lake_dir, access)
        self.registered = table_names(self.con)
        self.out = out
        self.max_rows = DEFAULT_MAX_ROWS

    def sync(self) -> bool:
        """Read the lake's tables anew when a pipeline run has published since (a session may last days);
        False, said, when they cannot be read now (the next command tries again)."""
        version = lake_version(self.lake_dir, self.access)
        if version == self.version:
            return True
        try:
            self.registered = refresh(self.con, self.lake_dir, self.access, self.registered)
        except Exception as exc:  # a file renamed away by a publish in progress, an unreadable file
            self.say(f"error: cannot read the lake's tables: {explain_error(exc, self.access)}")
            return False
        self.version = version
        return True

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def views(self) -> list[str]:
        return table_names(self.con)

    # --- dot commands -------------------------------------------------------------------------------
    def command(self, line: str) -> bool:
        """Run a dot command; False when the shell should stop."""
        parts = line.split()
        name, args = parts[0].lower(), parts[1:]
        if name in (".quit", ".exit", ".q"):
            return False
        if name == ".tables":
            self.tables()
        elif name == ".schema":
            if len(args) != 1:
                self.say("usage: .schema TABLE")
            else:
                self.schema(args[0])
        elif name == ".maxrows":
            if len(args) == 1 and args[0].isdigit() and int(args[0]) > 0:
                self.max_rows = int(args[0])
            else:
                self.say("usage: .maxrows N (a positive number)")
        elif name == ".help":
            self.say(HELP.format(max_rows=self.max_rows))
        else:
            self.say(f"unknown command {parts[0]} (try .help)")
        return True

    def tables(self) -> None:
        if not self.sync():
            return
        views = self.views()
        if not views:
            self.say(f"no tables: the lake has none the {self.access.describe()} reads yet")
            return
        rows = []
        for view in views:
            count = self.con.execute(f'select count(*) from "{view}"').fetchall()[0][0]
            doc = TABLES.get(view)
            rows.append((view, doc.layer if doc else "", count))
        self.say(format_rows(["table", "layer", "rows"], rows, max_rows=len(rows)))

    def schema(self, table: str) -> None:
        table = table.strip('"').rstrip(";")
        if not self.sync():
            return
        if table not in self.views():
            self.say(f"no table {table!r} (see .tables)")
            return
        docs = COLUMN_DOCS.get(table, {})
        escaped = table.replace('"', '""')
        described = self.con.execute(f'describe "{escaped}"').fetchall()
        rows = [(name, typ, docs.get(name, ("", ""))[1], docs.get(name, ("", ""))[0])
                for name, typ, *_ in described]
        self.say(format_rows(["column", "type", "unit", "meaning"], rows, max_rows=len(rows)))

    # --- SQL ------------------------------------------------------------------------------------------
    def sql(self, statement: str) -> None:
        if not self.sync():
            return
        try:
            result = self.con.sql(statement)
            if result is None:
                self.say("ok")
                return
            columns = list(result.columns)
            rows = result.fetchmany(self.max_rows + 1) if hasattr(result, "fetchmany") else result.fetchall()
            total = len(rows)
            if total > self.max_rows:
                total = result.aggregate("count(*)").fetchall()[0][0]
        except Exception as exc:  # duckdb raises several error types; all are the user's SQL
            self.say(f"error: {explain_error(exc, self.access, self.views())}")
            return
        out = format_rows(columns, rows, self.max_rows)
        if total > len(rows):
            out = out.rsplit("\n", 1)[0] + f"\n({total} rows, {self.max_rows} shown)"
        self.say(out)


def run_shell(lake_dir: str | Path, stdin: TextIO | None = None, stdout: TextIO | None = None,
              access=None) -> int:
    """Read SQL and dot commands from ``stdin`` until ``.quit`` or end of input; return 0 (1 when the lake's
    tables cannot be read).

    ``access``: a :class:`fengqiao.app.analyst.Access` (default the province analyst)."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    interactive = bool(getattr(stdin, "isatty", lambda: False)())
    if interactive:
        try:  # line editing and history where the platform has it
            import readline  # noqa: F401
        except ImportError:  # pragma: no cover
            pass
    access = access or Access()
    try:
        shell = _Shell(Path(lake_dir).resolve(), stdout, access)
    except Exception as exc:  # an unreadable Parquet file of the lake (pyarrow and OS errors)
        stdout.write(f"error: cannot read the lake's tables: {explain_error(exc, access)}\n")
        return 1
    views = shell.views()
    if interactive:
        shell.say(f"Fengqiao lake {Path(lake_dir)} as {access.describe()}: {len(views)} tables "
                  f"({', '.join(views) or 'none'}).")
        shell.say("End SQL with ';'. .help for commands, .quit to leave.")
    buffer: list[str] = []
    while True:
        if interactive and stdin is sys.stdin:
            # input() writes the prompt to the terminal and gives readline editing.
            try:
                line = input(CONTINUATION if buffer else PROMPT)
            except EOFError:
                shell.say()
                break
            except KeyboardInterrupt:
                shell.say("^C")
                buffer.clear()
                continue
        else:
            if interactive:
                stdout.write(CONTINUATION if buffer else PROMPT)
                stdout.flush()
            line = stdin.readline()
            if not line:
                break
        line = line.rstrip("\r\n")
        if not buffer and line.strip().startswith("."):
            if not shell.command(line.strip()):
                break
            continue
        if not buffer and not line.strip():
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            shell.sql("\n".join(buffer))
            buffer.clear()
    if buffer and "".join(buffer).strip():
        shell.sql("\n".join(buffer))  # a last statement without ';' at end of input still runs
    stdout.flush()
    return 0
