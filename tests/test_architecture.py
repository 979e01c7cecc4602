"""The house's one rule, checked: import only from your own floor or below; only jobs/ touches the lake.

The floors are written down once, in `.importlinter` (import-linter's layers, forbidden and acyclic-siblings
contracts); docs/architecture.md draws them. These tests fail on any upward import, any import cycle between
the modules of a package, a transform that opens the lake, a DAG file that reaches past the stage functions, or
a source file grown past 400 lines.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("fengqiao", "jobs", "models", "features", "dags")
MAX_LINES = 400
# What a DAG file may import from the project: the task factories, the stage functions and the core.
DAG_IMPORTS = ("fengqiao.orchestration", "jobs.stages", "fengqiao.core")


def test_the_floors_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    report = proc.stdout[proc.stdout.find("Contracts"):]
    assert proc.returncode == 0, f"import-linter found broken floors:\n{report}\n{proc.stderr[-2000:]}"
    assert "0 broken" in report and "3 kept" in report, report


def test_no_source_file_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT)): n for folder in SOURCE_FOLDERS for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them by responsibility): {long}"


def _project_imports(tree: ast.AST):
    """(module, candidates) per project import; `from jobs import stages` may name the module jobs.stages."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [alias.name]


def test_dag_files_import_only_the_stage_functions_and_the_core():
    for path in sorted((ROOT / "dags").glob("*.py")):
        for module, candidates in _project_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module.split(".")[0] not in ("fengqiao", "jobs", "models", "features"):
                continue
            assert any(c == allowed or c.startswith(allowed + ".") for c in candidates for allowed in DAG_IMPORTS), (
                f"{path.name} imports {module}: DAG files call stage functions (jobs.stages) through "
                f"fengqiao.orchestration and read the core only")
