"""Walking a DAG's task graph in tests."""
from __future__ import annotations


def ancestors(task) -> set[str]:
    """Task ids that run before ``task`` (other tasks may sit between them)."""
    seen: set[str] = set()
    todo = list(task.upstream_list)
    while todo:
        t = todo.pop()
        if t.task_id not in seen:
            seen.add(t.task_id)
            todo.extend(t.upstream_list)
    return seen
