"""First sync of a large amoCRM account from the fake, against the floor its rate limit sets.

    python bench/bench_sync.py [--leads 10000 --contacts 10000 --companies 2000] [--rps 7] [--no-doc]

Seeds the fake amoCRM (``tests/fake_amocrm``, served over HTTP on loopback)
with companies, contacts (each with a phone, an e-mail and a company) and
leads (each with a contact, a company, a tag and two custom fields), then
runs ``tui_crm.services.sync.run_sync`` into a fresh store with the
production client (7 requests per second, pages of 250). The fake enforces
the same 7 rps (429 and lock-out beyond it).

The floor is what the limit allows at best: every request the sync needs
(the list pages: ceil(n / 250) per entity, plus the metadata and empty-feed
requests) at 7 per second. The ratio to the pages-only floor
(``pages needed / 7``) is reported too. Then two more syncs with nothing
to do: the request count of the second is what a quiet sync costs (issue 12:
at most 5). Rewrites the "sync" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command_line, machine_info, now_stamp, table, update_doc  # noqa: E402

PAGE = 250


def seed(fake: object, leads: int, contacts: int, companies: int) -> None:
    """Fill the fake account directly (no HTTP, no rate limit); links go straight into its link table."""
    state = fake.state  # type: ignore[attr-defined]
    admin = state.admin_user_id
    city = state.field_by_name("leads", "Город")["id"]
    segment = state.field_by_name("leads", "Сегмент")
    with state.lock:
        company_ids: list[int] = []
        for start in range(0, companies, 250):
            batch = [{"name": f"Компания {i}"} for i in range(start, min(companies, start + 250))]
            company_ids += [e["id"] for e in state.write_entities("companies", batch, creating=True, user_id=admin)]
        contact_ids: list[int] = []
        for start in range(0, contacts, 250):
            batch = [
                {
                    "name": f"Контакт {i}",
                    "custom_fields_values": [
                        {"field_code": "PHONE", "values": [{"value": f"+7916{i:07d}", "enum_code": "MOB"}]},
                        {"field_code": "EMAIL", "values": [{"value": f"contact{i}@example.com"}]},
                    ],
                }
                for i in range(start, min(contacts, start + 250))
            ]
            contact_ids += [e["id"] for e in state.write_entities("contacts", batch, creating=True, user_id=admin)]
        lead_ids: list[int] = []
        for start in range(0, leads, 250):
            batch = [
                {
                    "name": f"Сделка {i}",
                    "price": 1000 * (i % 500),
                    "custom_fields_values": [
                        {"field_id": city, "values": [{"value": "Москва"}]},
                        {"field_id": segment["id"], "values": [{"enum_id": segment["enums"][i % 4]["id"]}]},
                    ],
                    "_embedded": {"tags": [{"name": f"tag{i % 20}"}]},
                }
                for i in range(start, min(leads, start + 250))
            ]
            lead_ids += [e["id"] for e in state.write_entities("leads", batch, creating=True, user_id=admin)]
        for n, contact_id in enumerate(contact_ids):
            if company_ids:
                state.links[state._link_key("contacts", contact_id, "companies", company_ids[n % len(company_ids)])] = {}
        for n, lead_id in enumerate(lead_ids):
            if contact_ids:
                state.links[state._link_key("leads", lead_id, "contacts", contact_ids[n % len(contact_ids)])] = {
                    "main_contact": True
                }
            if company_ids:
                state.links[state._link_key("leads", lead_id, "companies", company_ids[n % len(company_ids)])] = {}


def serve_fake(conn: object, leads: int, contacts: int, companies: int, rps: int) -> None:
    """The fake in its own process (so its rendering does not share the sync's interpreter lock)."""
    from tests.fake_amocrm import FakeAmo

    fake = FakeAmo.start()
    fake.limits.max_rps = rps
    started = time.perf_counter()
    seed(fake, leads, contacts, companies)
    from tests.fake_amocrm.speed import index_links

    index_links(fake)
    conn.send((fake.base_url, fake.token, time.perf_counter() - started))  # type: ignore[attr-defined]
    while True:
        message = conn.recv()  # type: ignore[attr-defined]
        if message == "clear":
            fake.clear_requests()
            conn.send("ok")  # type: ignore[attr-defined]
        elif message == "advance":  # time passes between syncs (the fake's clock stands still otherwise)
            fake.clock.advance(60)
            conn.send("ok")  # type: ignore[attr-defined]
        elif message == "stats":
            api = [r for r in fake.requests if r.path.startswith("/api/v4/")]
            conn.send(  # type: ignore[attr-defined]
                {
                    "count": len(api),
                    "by_path": Counter(r.path for r in api).most_common(),
                    "peak": fake.max_requests_per_window(1.0, path_prefix="/api/v4/"),
                    "status_429": sum(1 for r in api if r.status == 429),
                }
            )
        else:
            fake.stop()
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--rps", type=int, default=7, help="the rate limit of both the client and the fake")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the database (path printed)")
    args = parser.parse_args()

    import multiprocessing

    import keyring

    from tests.fake_amocrm.keyrings import MemoryKeyring
    from tui_crm.config import Settings
    from tui_crm.services import sync as sync_service
    from tui_crm.services.context import open_crm

    keyring.set_keyring(MemoryKeyring())
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve_fake, args=(child, args.leads, args.contacts, args.companies, args.rps), daemon=True
    )
    server.start()
    base_url, token, seeded = parent.recv()
    print(f"seeded the fake in {seeded:.1f} s", file=sys.stderr)

    root = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    settings = Settings(
        db_path=root / "crm.db", files_dir=root / "files", config_dir=root / "cfg", user="Бенч", timezone="Europe/Moscow"
    )
    crm = open_crm(settings)
    sync_service.connect_amocrm(crm, base_url=base_url, long_lived_token=token)
    parent.send("clear")
    parent.recv()
    from tui_crm.sync.engine import SyncEngine

    applying = [0.0]
    original_apply = SyncEngine.apply_page

    def timed_apply(self: SyncEngine, *a: object, **kw: object) -> None:
        begun = time.perf_counter()
        try:
            original_apply(self, *a, **kw)  # type: ignore[arg-type]
        finally:
            applying[0] += time.perf_counter() - begun

    SyncEngine.apply_page = timed_apply  # type: ignore[method-assign]
    last = [0.0]

    def progress(phase: str, entity: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - last[0] > 5:
            last[0] = now
            print(f"  {now - started:6.1f} s  {phase} {entity}: {done}", file=sys.stderr)

    adapter = sync_service.make_adapter(crm, max_rps=args.rps)
    started = time.perf_counter()
    try:
        report = sync_service.run_sync(crm, adapter=adapter, progress=progress)
    finally:
        adapter.close()
    elapsed = time.perf_counter() - started
    parent.send("stats")
    seen = parent.recv()
    # Then syncs with nothing to do: the first reads back what the first sync itself changed
    # (the catalog is cached, the change probe is noted); the next is the quiet sync a team runs
    # every few minutes.
    applied_first = applying[0]
    quiet: list[tuple[int, float, list[str]]] = []
    for _ in range(2):
        for message in ("advance", "clear"):
            parent.send(message)
            parent.recv()
        adapter = sync_service.make_adapter(crm, max_rps=args.rps)
        begun = time.perf_counter()
        try:
            sync_service.run_sync(crm, adapter=adapter)
        finally:
            adapter.close()
        took = time.perf_counter() - begun
        parent.send("stats")
        stats_ = parent.recv()
        quiet.append((stats_["count"], took, [f"`{p}` {n}" for p, n in stats_["by_path"]]))
    parent.send("stop")
    server.join(timeout=10)
    by_path = seen["by_path"]
    pages_needed = sum(math.ceil(n / PAGE) for n in (args.leads, args.contacts, args.companies))
    floor_pages = pages_needed / args.rps
    floor_all = seen["count"] / args.rps
    stats = report.stats
    pulled = {e: stats[e].pulled_new for e in ("deal", "contact", "company")}
    crm.close()

    rows = [
        ("records pulled (leads / contacts / companies)", f"{pulled['deal']} / {pulled['contact']} / {pulled['company']}"),
        ("list pages needed (250 per page)", pages_needed),
        ("API requests made (all)", seen["count"]),
        ("busiest second at the fake", f"{seen['peak']} requests (limit {args.rps}); 429 answers: {seen['status_429']}"),
        ("wall time of the sync", f"{elapsed:.1f} s"),
        (f"floor: pages needed / {args.rps} per s", f"{floor_pages:.1f} s  (x{elapsed / floor_pages:.2f})"),
        (f"floor: all requests made / {args.rps} per s", f"{floor_all:.1f} s  (x{elapsed / floor_all:.2f})"),
        (
            "time spent applying pages locally",
            f"{applied_first:.1f} s ({sum(pulled.values()) / max(applied_first, 1e-9):.0f} records/s)",
        ),
        ("next sync (reads back nothing new; notes the probe)", f"{quiet[0][0]} requests, {quiet[0][1]:.1f} s"),
        ("sync with nothing to do (target: at most 5 requests)", f"{quiet[1][0]} requests, {quiet[1][1]:.1f} s"),
    ]
    body = "\n".join(
        [
            "## Sync: first sync from the fake",
            "",
            f"`{command_line()}` — {now_stamp()}",
            "",
            f"Machine: {machine_info()}",
            "",
            "A fresh store pulls a fake amoCRM account (tests/fake_amocrm over HTTP on loopback, in its own process, "
            "with an index on its link table) holding "
            f"{args.leads} leads, {args.contacts} contacts and {args.companies} companies (leads linked to a contact "
            f"and a company, with tags and custom fields; contacts with a phone, an e-mail and a company). Client and "
            f"fake both hold {args.rps} requests per second. Pages download up to four ahead of the one being applied, "
            "through one pipe for every stream (tui_crm/sync/pipeline.py), and pages that piled up are applied in one "
            "transaction, so the local work hides behind the rate limit when it is fast enough. On a loaded machine "
            "(see the load average) the local work is starved of CPU and sets the pace.",
            "",
            table(["measure", "value"], rows),
            "",
            "Requests by path: " + ", ".join(f"`{p}` {n}" for p, n in by_path),
            "",
            "Requests of the sync with nothing to do: " + ", ".join(quiet[1][2]),
            "",
            'The "next sync" re-reads every page because the fake\'s clock stood still while it was seeded and pulled: '
            "every record and every seeding event carries the same second, inside the 5-second overlap of the cursor "
            "and of the change probe. On a live account only the last seconds before the first sync are read again.",
            "",
            f"The database was at {root / 'crm.db'}" + ("" if args.keep else " (removed)") + ".",
        ]
    )
    print(body)
    if not args.no_doc:
        update_doc("sync", body)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
