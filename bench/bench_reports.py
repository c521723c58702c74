"""The reports on the 100k-deal database with its stage history.

    python bench/datagen.py --db /tmp/reports-100k.db --deals 100000 --contacts 20000 --companies 4000 --verify 0
    python bench/bench_reports.py --db /tmp/reports-100k.db [--runs 10]

Each report is one in-process service call on an open ``Crm``
(``services.reports.*_report``: what ``crm report NAME --json`` and the
Reports screen ask for), timed for this year and for all time, after one
warm-up. Target (issue 14): every report at most 300 ms.
Rewrites the "reports" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import command_line, machine_info, ms, now_stamp, require_current_schema, summary, table, update_doc

TARGET = 0.300
# What the 2026-12-04 run found (kept in the doc section on every rerun until it is fixed).
WHERE_THE_TIME_GOES = """**Not met yet; where the time goes** (statement timings on this file, one run; the machine's load
average was 11-20 on 2 CPUs during the whole session, so wall clock is ~2x the CPU column):

- *funnel*: the cohort query (deals entering each stage in the period, by index range on
  `ix_stage_event_stage`) then one correlated lookup per cohort row on `ix_stage_event_deal` for how
  far the deal got: ~100k-140k lookups for a year. Next step: keep each deal's furthest stage in a
  column maintained by the same `stage_event` trigger, so conversion becomes one GROUP BY.
- *activity*: tasks completed in the period (~360 ms, `ix_task_completed` then a row read per task for
  `deleted_at`; a covering index with `deleted_at` would avoid it), deals touched (~280 ms over
  `ix_change_deal_user`), and the overdue-per-day sweep in Python over every task of the last year.
- *sources*: one GROUP BY over all deals created or won in the period with the territory lookup;
  an index on `deal(created_at)` / `deal(closed_at)` is the next step.
- *losses* is within the target.

The figures themselves are checked by tests/cli/test_reports_recompute.py (every figure recomputed
from `crm deals list --json --history`); the bench only times them."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/reports-100k.db"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    require_current_schema(args.db)
    if "CRM_CONFIG_DIR" not in os.environ:  # the shipped pipelines, not the user's
        os.environ["CRM_CONFIG_DIR"] = tempfile.mkdtemp(prefix="crm-bench-cfg-")

    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm
    from tui_crm.services.reports import REPORTS, ReportFilter

    print(machine_info(), flush=True)
    crm = open_crm(load_settings(db=args.db))
    with crm.engine.connect() as conn:
        n_deals = conn.exec_driver_sql("SELECT count(*) FROM deal WHERE deleted_at IS NULL").scalar_one()
        n_events = conn.exec_driver_sql("SELECT count(*) FROM stage_event").scalar_one()
        n_log = conn.exec_driver_sql("SELECT count(*) FROM change_log").scalar_one()
        n_tasks = conn.exec_driver_sql("SELECT count(*) FROM task").scalar_one()
    print(f"{args.db}: {n_deals:,} deals, {n_events:,} stage entries, {n_log:,} change-log rows, {n_tasks:,} tasks")

    rows: list[list[object]] = []
    worst = 0.0
    for period in ("this-year", "all"):
        for name, report in REPORTS.items():
            flt = ReportFilter(period=period)
            report(crm, flt)  # warm the page cache and the statement cache
            wall, cpu = [], []
            for _ in range(args.runs):
                start, start_cpu = time.perf_counter(), time.process_time()
                report(crm, flt)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            stats = summary(wall)
            worst = max(worst, stats["median"])
            rows.append([name, period, ms(stats["median"]), ms(stats["p90"]), ms(stats["max"]), ms(summary(cpu)["median"])])
            print(rows[-1], flush=True)
    crm.close()
    verdict = "met" if worst <= TARGET else "NOT met"
    body = "\n".join(
        [
            "## Reports: funnel, sources, losses, activity (issue 14)",
            "",
            f"Command: `{command_line()}`  ",
            f"Data: `{args.db}` from `bench/datagen.py` ({n_deals:,} deals with their stage history: "
            f"{n_events:,} stage entries in `stage_event`, {n_log:,} change-log rows, {n_tasks:,} tasks)  ",
            f"Machine: {machine_info()}  ",
            f"Date: {now_stamp()}; {args.runs} runs after one warm-up; the funnel on the default pipeline "
            "(sales20), the others over all pipelines; no responsible or tag filter.",
            "",
            table(["report", "period", "median", "p90", "max", "CPU median"], rows),
            "",
            f"Target: every report in at most 300 ms: **{verdict}** (worst wall-clock median {ms(worst)}). "
            "The machine was shared with seven other helpers running tests and benchmarks at the same time "
            "(see the load average above): wall clock includes time others held the CPUs; the CPU column is "
            "this process's own work.",
            "",
            WHERE_THE_TIME_GOES,
        ]
    )
    if not args.no_doc:
        update_doc("reports", body)
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
