"""Shared helpers for the benchmarks: statistics, machine info, the results doc.

Each benchmark owns one section of ``docs/benchmarks.md`` between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers and rewrites only
that section, so the benchmarks can be run in any order.
"""

from __future__ import annotations

import functools
import os
import platform
import shlex
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
DOC_HEADER = """# Benchmarks

Measured by the scripts in `bench/` (see `bench/README.md`); every section
below was written by the script named in it, with the exact command, the
machine and the date. Targets come from DESIGN.md, "Quality bars".
Rerun everything with `bench/run_all.sh`.
"""


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p90 of 30 runs is the 27th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


@functools.cache
def machine_info() -> str:
    """Computed once, when a benchmark starts."""
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}), "
        f"{cpu_model()}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({sys.executable}); SQLite {sqlite3.sqlite_version}; "
        f"load average at start {load_average()}"
    )


def load_average() -> str:
    """Other work on the machine skews timings: the doc states it."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def command_line() -> str:
    """The command that is running, as it can be pasted into a shell."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def now_stamp() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def update_doc(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of the results document."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else DOC_HEADER
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end) :]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class SqlTrace:
    """Times every statement an engine runs (for "which SQL is slow")."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.records: list[tuple[str, Any, float]] = []
        self._start: list[float] = []

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        self._start.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        self.records.append((statement, params, time.perf_counter() - self._start.pop()))

    def __enter__(self) -> SqlTrace:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def slowest(self, n: int = 5) -> list[tuple[str, Any, float]]:
        return sorted(self.records, key=lambda r: -r[2])[:n]

    def total(self) -> float:
        return sum(r[2] for r in self.records)


def rerun(engine: Any, statement: str, params: Any, runs: int = 3) -> float:
    """Median time of a statement run alone, rows fetched.

    The cursor events time only ``execute``; SQLite does most of a query's
    work while rows are fetched, so the tracer's times undercount it.
    """
    times = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for _ in range(runs):
            start = time.perf_counter()
            raw.execute(statement, params).fetchall()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def by_rerun(engine: Any, records: list[tuple[str, Any, float]]) -> list[tuple[str, Any, float, int]]:
    """Distinct traced SELECTs: (statement, params, full rerun time, times run), slowest first."""
    seen: dict[tuple[str, str], list[Any]] = {}
    for statement, params, _ in records:
        if statement.lstrip().upper().startswith("SELECT"):
            entry = seen.setdefault((statement, repr(params)), [statement, params, 0])
            entry[2] += 1
    timed = [(st, pa, rerun(engine, st, pa), n) for st, pa, n in seen.values()]
    return sorted(timed, key=lambda r: -r[2])


def explain(engine: Any, statement: str, params: Any) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN lines for one traced statement."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    return [f"{r[0]:>3} {r[1]:>3}  {r[3]}" for r in rows]


def sql_block(statement: str, limit: int = 1200) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= limit else text[:limit] + " ..."


def require_current_schema(db: Path) -> None:
    """Refuse a database made under an older schema: opening it would migrate it."""
    from tui_crm.storage.migrate import SCHEMA_HEAD, current_revision

    if not db.exists():
        raise SystemExit(f"{db} missing: python bench/datagen.py --db {db} --deals 100000 --contacts 100000 --companies 20000")
    revision = current_revision(db)
    if revision != SCHEMA_HEAD:
        raise SystemExit(
            f"{db} has schema {revision}, the code is at {SCHEMA_HEAD}: remake it with "
            f"python bench/datagen.py --db {db} --force (or REGEN=1 bench/run_all.sh)"
        )
