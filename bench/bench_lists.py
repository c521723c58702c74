#!/usr/bin/env python
"""Contact and company list pages: OFFSET paging against keyset paging.

    CRM_CONFIG_DIR=$(mktemp -d) python bench/bench_lists.py --db /tmp/bench-100k.db

For rows at several depths of the list it times one 100-row page three ways:

* ``offset``: ``list_contacts(limit=100, offset=row)``, what the TUI list
  did before (and the CLI's ``--offset`` still does);
* ``keyset``: ``PartyPager.page(row, 100)`` when the key of the row before is
  known, i.e. arriving there by scrolling or paging (what the TUI list does
  on every page after the first);
* ``jump``: ``PartyPager.page(row, 100)`` on a fresh pager that knows only the
  row count: a jump (End, the scrollbar, a reload at that position) that
  reads from the nearer end of the list.

Medians of ``--runs`` runs after one warm-up, in ms. Reads only; prints a
table (no doc section: the numbers go in the change's report).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    os.environ.setdefault("CRM_CONFIG_DIR", tempfile.mkdtemp())

    from tui_crm.config import load_settings
    from tui_crm.services.companies import list_companies
    from tui_crm.services.contacts import list_contacts
    from tui_crm.services.context import open_crm
    from tui_crm.services.party_pages import PartyPager

    crm = open_crm(load_settings(db=args.db))
    print(f"{'list':<10}{'row':>8}{'offset ms':>12}{'keyset ms':>12}{'jump ms':>10}")
    for entity_type, lister in (("contact", list_contacts), ("company", list_companies)):
        total = PartyPager(crm, entity_type).count()
        depths = [0, 30_000, 60_000, 90_000] if total > 90_100 else [0, total // 3, 2 * total // 3]
        depths.append(total - 100)
        for row in depths:
            print(f"{entity_type:<10}{row:>8}" + "".join(f"{ms:>{w}.1f}" for ms, w in zip(
                _time_row(crm, entity_type, lister, total, row, args.runs), (12, 12, 10), strict=True)))
    crm.close()


def _time_row(crm: Any, entity_type: str, lister: Callable[..., object], total: int, row: int, runs: int) -> list[float]:
    """(offset, keyset, jump) medians for the page that starts at ``row``."""
    from tui_crm.services.party_pages import PartyPager

    offset_ms = _median_ms(lambda: lister(crm, limit=100, offset=row), runs)
    warm = PartyPager(crm, entity_type)
    warm.total = total
    if row:
        # learn the key of the row before, as scrolling there would (setup, not timed)
        warm._anchors[row - 1] = _key_at(crm, entity_type, row - 1)
        warm._positions.append(row - 1)
    keyset_ms = _median_ms(lambda: warm.page(row, 100), runs)

    def jump() -> object:
        cold = PartyPager(crm, entity_type)
        cold.total = total
        return cold.page(row, 100)

    return [offset_ms, keyset_ms, _median_ms(jump, runs)]


def _key_at(crm: Any, entity_type: str, row: int) -> tuple[str, str]:
    """The sort key at ``row`` (setup, not timed)."""
    from tui_crm.services.party_pages import party_page

    page = party_page(crm, entity_type, skip=row, limit=1)
    return page.keys[0]


if __name__ == "__main__":
    main()
