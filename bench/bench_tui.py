"""TUI cold start to the first interactive board frame, and pipeline switches.

    python bench/bench_tui.py --db10k /tmp/bench-10k.db --db100k /tmp/bench-100k.db [--runs 5]

*Cold start* = from just before the process is spawned until the board of
the default pipeline has every column loaded (aggregates + first page) and
that frame has rendered: a fresh ``python bench/tui_probe.py`` that runs
the real console entry, ``tui_crm.startup.run`` as ``crm --db DB`` (so the
paused garbage collector, Typer and the CLI's store opening all count), with
only ``CrmApp.run`` swapped for Textual's ``run_test`` driver: the same
widgets and layout, no terminal I/O. *Pipeline switch* =
from setting the next pipeline until its board is rendered, in the same
process. Targets (DESIGN): cold start <= 1.0 s with 10k deals; board open /
switch <= 200 ms with 100k deals. Make the data with
``python bench/datagen.py --db /tmp/bench-10k.db --deals 10000 --contacts 10000 --companies 2000``.
Rewrites the "tui" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import command_line, machine_info, ms, now_stamp, require_current_schema, summary, table, update_doc

PROBE = Path(__file__).with_name("tui_probe.py")
COLD_TARGET = 1.0
SWITCH_TARGET = 0.200


def run_probe(db: Path, switches: int) -> tuple[float, list[float]]:
    env = {**os.environ, "TEXTUAL_ANIMATION": "none"}
    start = time.time()
    out = subprocess.run(
        [sys.executable, str(PROBE), str(db), str(switches)], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["ready"] - start, [v / 1000 for v in result["switch_ms"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db10k", type=Path, default=Path("/tmp/bench-10k.db"))
    parser.add_argument("--db100k", type=Path, default=Path("/tmp/bench-100k.db"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if "CRM_CONFIG_DIR" not in os.environ:
        os.environ["CRM_CONFIG_DIR"] = tempfile.mkdtemp(prefix="crm-bench-cfg-")
    print(machine_info(), flush=True)
    rows: list[list[object]] = []
    for label, db in (("10k deals", args.db10k), ("100k deals", args.db100k)):
        require_current_schema(db)
        run_probe(db, 0)  # warm the OS page cache and .pyc files
        colds: list[float] = []
        switches: list[float] = []
        for _ in range(args.runs):
            cold, sw = run_probe(db, 6)
            colds.append(cold)
            switches.extend(sw)
        c, s = summary(colds), summary(switches)
        cold_ok = "ok" if label.startswith("100k") or c["median"] <= COLD_TARGET else "**over**"
        sw_ok = "ok" if s["median"] <= SWITCH_TARGET else "**over**"
        rows.append([f"cold start to interactive board, {label}", ms(c["median"]), ms(c["p90"]), cold_ok])
        rows.append([f"pipeline switch, {label}", ms(s["median"]), ms(s["p90"]), sw_ok])
        print(
            f"{label}: cold start median {ms(c['median'])} p90 {ms(c['p90'])}; switch median {ms(s['median'])} p90 {ms(s['p90'])}"
        )
    body = "\n".join(
        [
            "## TUI: cold start and pipeline switch",
            "",
            f"`{command_line()}` — {now_stamp()}; {machine_info()}",
            "",
            f"Cold start target {COLD_TARGET:.1f} s (10k deals); switch target {SWITCH_TARGET * 1000:.0f} ms. "
            "Each run is a fresh process started the way `crm` starts (`tui_crm.startup.run` with "
            "`crm --db DB`: paused GC, Typer, the CLI's store and demo check), with the app headless "
            "(`run_test`), so terminal output is not included. A frame counts once it is rendered and the "
            "process is idle (Textual's `pilot.pause()`).",
            "",
            table(["what", "median", "p90", "verdict"], rows),
        ]
    )
    if not args.no_doc:
        update_doc("tui", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
