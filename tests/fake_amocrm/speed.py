"""Speed-ups of the fake for runs with tens of thousands of records (the bench, the scale tests).

The fake keeps links (lead-contact, contact-company) in one table and scans
it for every record it renders: fine for a test's dozens, quadratic for a
first sync of 10 000 leads. :func:`index_links` adds an index that is
dropped on every link or unlink, so it never serves stale links.
"""

from __future__ import annotations


def index_links(fake: object) -> None:
    """Give the fake an index of its links (its own lookup scans every link for every record it renders).

    Without it the fake, not the sync, is the bottleneck: rendering one page of
    250 leads scans all 20 000 links twice per lead. The index is dropped on
    every link/unlink, so it never serves stale links.
    """
    state = fake.state  # type: ignore[attr-defined]
    original_link, original_unlink = state.link, state.unlink
    cache: dict[tuple[str, str], dict[int, list[int]]] = {}

    def linked(etype: str, entity_id: int, to_type: str) -> list[tuple[int, dict[str, object]]]:
        key = (etype, to_type)
        if key not in cache:
            table: dict[int, list[int]] = {}
            for a_type, a_id, b_type, b_id in state.links:
                if (a_type, b_type) == key:
                    table.setdefault(a_id, []).append(b_id)
                elif (b_type, a_type) == key:
                    table.setdefault(b_id, []).append(a_id)
            cache[key] = table
        return [
            (other, state.links[state._link_key(etype, entity_id, to_type, other)])
            for other in sorted(cache[key].get(entity_id, []))
            if state.get_entity(to_type, other) is not None
        ]

    def link(*args: object, **kwargs: object) -> object:
        cache.clear()
        return original_link(*args, **kwargs)

    def unlink(*args: object, **kwargs: object) -> object:
        cache.clear()
        return original_unlink(*args, **kwargs)

    state.linked, state.link, state.unlink = linked, link, unlink
