"""A writer process for the durability tests (not a test module).

    python writer_proc.py DB MODE [--start N] [--count N] [--stop-file PATH] [--hold SECONDS] [--gap SECONDS] [--cli JSON]

Modes:

``capture``  ``capture_lead`` in a tight loop; after each call RETURNS (the
             commit is durable) prints ``ACK <deal id> <token>`` and flushes.
             A line is printed only after the write was acknowledged, so a
             test that SIGKILLs this process knows every printed id must
             survive.
``cli``      the same through real ``crm add lead --json`` child processes
             (one per lead); prints ``ACK`` after the child exited 0.
``hold``     the app's long write: opens a write transaction (BEGIN
             IMMEDIATE), creates a company, keeps the transaction open for
             ``--hold`` seconds, commits, prints ``ACK``; repeats.
``read``     holds one long read transaction open (WAL readers never block
             writers); prints ``ACK read <n>`` when it ends.

Every mode prints ``READY`` once the store is open and stops when
``--stop-file`` exists (or after ``--count`` writes). The token of each lead
(``k<start>q<i>z``) is in its name, so a test can find it by search.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def phone_for(n: int) -> str:
    return f"+7 916 {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"


def token_for(start: int, i: int) -> str:
    return f"k{start}q{i}z"


def should_stop(args: argparse.Namespace, done: int) -> bool:
    if args.count is not None and done >= args.count:
        return True
    return args.stop_file is not None and Path(args.stop_file).exists()


def ack(*parts: object) -> None:
    print("ACK", *parts, flush=True)


def run_capture(args: argparse.Namespace) -> None:
    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm
    from tui_crm.services.deals import LeadInput, capture_lead

    crm = open_crm(load_settings(db=args.db))
    print("READY", flush=True)
    i = 0
    while not should_stop(args, i):
        token = token_for(args.start, i)
        deal = capture_lead(
            crm,
            LeadInput(
                name=f"Crash lead {token}",
                phone=phone_for(args.start + i),
                email=f"{token}@example.ru",
                note=f"note for {token}",
            ),
        )
        ack(deal.id, token)  # only now: capture_lead returned, the commit is on disk
        i += 1
    crm.close()


def run_cli(args: argparse.Namespace) -> None:
    print("READY", flush=True)
    i = 0
    while not should_stop(args, i):
        token = token_for(args.start, i)
        done = subprocess.run(
            [*json.loads(args.cli), "--db", args.db, "add", "lead", f"CLI lead {token}", "--phone", phone_for(args.start + i),
             "--email", f"{token}@example.ru", "--json"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"FAIL rc={done.returncode} {done.stderr.strip()}", file=sys.stderr, flush=True)
            sys.exit(3)
        ack(json.loads(done.stdout)["id"], token)
        i += 1


def run_hold(args: argparse.Namespace) -> None:
    from tui_crm.config import load_settings
    from tui_crm.domain.text import fold
    from tui_crm.services.context import open_crm
    from tui_crm.storage.models import Company

    crm = open_crm(load_settings(db=args.db))
    print("READY", flush=True)
    i = 0
    while not should_stop(args, i):
        name = f"Hold company {token_for(args.start, i)}"
        with crm.uow() as work:  # BEGIN IMMEDIATE: the write lock is ours from here
            company = Company(name=name, name_fold=fold(name))
            work.create(company)
            work.session.flush()
            print("HOLDING", flush=True)
            time.sleep(args.hold)
        ack(company.id, name)
        i += 1
        time.sleep(args.gap)  # the app does other work between writes
    crm.close()


def run_read(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm

    crm = open_crm(load_settings(db=args.db))
    with crm.read() as session:
        first = session.execute(text("SELECT count(*) FROM deal")).scalar_one()  # the snapshot starts here
        print("READY", flush=True)
        while not should_stop(args, 0):
            time.sleep(0.05)
        again = session.execute(text("SELECT count(*) FROM deal")).scalar_one()
    ack("read", first, again)
    crm.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("mode", choices=["capture", "cli", "hold", "read"])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int)
    parser.add_argument("--stop-file")
    parser.add_argument("--hold", type=float, default=1.0)
    parser.add_argument("--gap", type=float, default=0.02, help="hold mode: pause between transactions")
    parser.add_argument("--cli", default=json.dumps([os.path.join(os.path.dirname(sys.executable), "crm")]),
                        help="the crm command as a JSON list")
    args = parser.parse_args()
    {"capture": run_capture, "cli": run_cli, "hold": run_hold, "read": run_read}[args.mode](args)


if __name__ == "__main__":
    main()
