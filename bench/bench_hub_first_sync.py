"""First sync of a large team from the hub into a fresh laptop, against a bare COPY-and-insert floor.

    python bench/bench_hub_first_sync.py [--deals 100000] [--no-doc]

Starts a PostgreSQL server in a temporary directory (tests/hub/pg_server.py),
creates the hub, one member and its store (connecting publishes the
pipelines), then seeds ``--deals`` deals straight into the hub (one
``INSERT … SELECT generate_series``; the triggers write the feed as for any
push). Measured in the same run:

* the sync: ``run_sync`` of the fresh store (pull every page, apply, id map,
  shadows, search index);
* the floor: ``COPY (SELECT id, fields …) TO STDOUT`` of the same rows and
  one ``executemany`` insert of (id, name, budget, stage, responsible) into
  a fresh SQLite table, in one transaction.

The issue's bar: the sync within 3 x the floor. Rewrites the "hub-first-sync"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command_line, machine_info, now_stamp, table, update_doc  # noqa: E402

PASSWORD = "bench-member-password"


def floor(owner: str, db: Path) -> tuple[float, int]:
    import psycopg

    started = time.perf_counter()
    rows = []
    with psycopg.connect(owner) as conn, conn.cursor() as cur:
        with cur.copy("COPY (SELECT id, fields::text FROM hub_record WHERE entity = 'deal') TO STDOUT") as copy:
            for rid, raw in copy.rows():
                f = json.loads(raw)
                rows.append((rid, f.get("name"), f.get("budget_rub"), f.get("stage_id"), f.get("responsible_id")))
    lite = sqlite3.connect(db)
    lite.execute("CREATE TABLE deal (id TEXT PRIMARY KEY, name TEXT, budget_rub INTEGER, stage TEXT, responsible TEXT)")
    with lite:
        lite.executemany("INSERT INTO deal VALUES (?, ?, ?, ?, ?)", rows)
    lite.close()
    return time.perf_counter() - started, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()

    import psycopg
    from sqlmodel import func, select

    from tests.hub.pg_server import start_server
    from tui_crm.config import Settings
    from tui_crm.services.context import open_crm
    from tui_crm.services.hub import add_member, connect_hub
    from tui_crm.services.sync import run_sync
    from tui_crm.storage.models import Deal
    from tui_crm.sync.hub.schema import init_hub

    os.environ["CRM_HUB_PASSWORD"] = PASSWORD
    server = start_server()
    root = Path(tempfile.mkdtemp(prefix="bench-hub-first-"))
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        owner = server.dsn("bench")
        init_hub(owner)
        add_member(owner, "bench_anna", "Анна", password=PASSWORD, team="sales")
        settings = Settings(
            db_path=root / "crm.db", files_dir=root / "files", config_dir=root / "cfg", user="Анна", timezone="Europe/Moscow"
        )
        crm = open_crm(settings)
        connect_hub(crm, f"postgresql://bench_anna@127.0.0.1:{server.port}/bench")
        started = time.perf_counter()
        with psycopg.connect(owner) as conn:
            stage = conn.execute("SELECT id FROM hub_stage ORDER BY pipeline_key, sort LIMIT 1").fetchone()[0]
            conn.execute(
                "INSERT INTO hub_record (entity, id, fields) SELECT 'deal', md5(g::text), jsonb_build_object("
                "'name', 'Сделка ' || g, 'budget_rub', g * 100, 'stage_id', %s::text, 'responsible_id', 'bench_anna', "
                "'tags', '[]'::jsonb, 'contacts', '[]'::jsonb, 'deleted', false) FROM generate_series(1, %s) g",
                (stage, args.deals),
            )
        seeded = time.perf_counter() - started

        started = time.perf_counter()
        report = run_sync(crm)
        synced = time.perf_counter() - started
        with crm.read() as session:
            local = int(session.exec(select(func.count()).select_from(Deal)).one())
        crm.close()
        floor_s, floor_rows = floor(owner, root / "floor.db")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    ratio = synced / floor_s
    rows = [
        ("deals on the hub / in the fresh store after the sync", f"{args.deals} / {local}"),
        ("first sync (`run_sync`: pull, merge, id map, shadows, search index)", f"{synced:.1f} s ({local / synced:.0f} deals/s)"),
        ("floor: COPY out + executemany into SQLite, same rows", f"{floor_s:.1f} s ({floor_rows} rows)"),
        ("ratio (target: at most 3 x)", f"{ratio:.1f} x — {'met' if ratio <= 3 else 'NOT met'}"),
        ("pages pulled / errors", f"{report.pages} / {len(report.errors)}"),
        ("seeding the hub (INSERT … SELECT, triggers write the feed)", f"{seeded:.1f} s"),
    ]
    body = "\n".join(
        [
            "## Hub: first sync of a large team into a fresh laptop",
            "",
            f"`{command_line()}` — {now_stamp()}",
            "",
            f"Machine: {machine_info()}",
            "",
            table(["measure", "value"], rows),
        ]
    )
    print(body)
    if not args.no_doc:
        update_doc("hub-first-sync", body)


if __name__ == "__main__":
    main()
