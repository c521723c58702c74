"""Pulled pages downloaded ahead of the pages being applied, and applied in groups when they pile up.

A pull is bound by two things: the account's rate limit (7 requests a
second: 1750 records a second at 250 a page) and the local work of applying
a page (merge, inserts, the search index, one commit). With the download
running one page ahead, a slow page stalls the downloads, and the request
slots it missed are lost for good. So the next pages download up to
``depth`` ahead, and when the local side falls behind, the pages that are
already here are applied together: one transaction, one commit, one cursor
(the group's last), instead of one per page. A killed run still resumes at
the first page whose group was not committed; re-reading a page is a no-op.

Every stream of a pull (companies, contacts, leads, tasks, the notes of
each) goes through the same pipe, in order: the next stream's first
request leaves while the last pages of the previous one are applied,
instead of after (a first sync has eight streams).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from itertools import groupby
from typing import TYPE_CHECKING, Any, TypeVar

from tui_crm.sync.adapter import MetaChanged, Page, RemoteRecord

if TYPE_CHECKING:
    from tui_crm.sync.engine import SyncEngine

T = TypeVar("T")

DEPTH = 4  # pages downloaded ahead of the one being applied
GROUP = 4  # pages applied in one transaction at most (1000 records)


def prefetch_groups(iterator: Iterator[T], *, depth: int = DEPTH, group: int = GROUP) -> Iterator[list[T]]:
    """Run ``iterator`` ahead in a thread; yield what is ready: at least one item, at most ``group``.

    An error of the iterator reaches the consumer after the items that came before it."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put(("error", exc))

    thread = threading.Thread(target=worker, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        held: tuple[str, Any] | None = None
        while True:
            kind, value = held or items.get()
            held = None
            if kind == "end":
                return
            if kind == "error":
                raise value
            batch = [value]
            while len(batch) < group:
                try:
                    kind, value = items.get_nowait()
                except queue.Empty:
                    break
                if kind != "item":
                    held = (kind, value)  # the end, or an error: after this batch
                    break
                batch.append(value)
            yield batch
    finally:
        stop.set()
        close = getattr(iterator, "close", None)
        thread.join(timeout=0.5)
        if close is not None and not thread.is_alive():
            close()


def group_records(pages: list[Page]) -> list[RemoteRecord]:
    """The records of consecutive pages, each remote record once (its latest reading: a record
    updated while the pages were read shows up on a later page too)."""
    if len(pages) == 1:
        return pages[0].records
    latest: dict[str, RemoteRecord] = {}
    for page in pages:
        for record in page.records:
            latest.pop(record.remote_id, None)
            latest[record.remote_id] = record
    return list(latest.values())


# --------------------------------------------------------- every stream, one pipe


def _stream_pages(engine: SyncEngine, streams: list[tuple[str, str]]) -> Iterator[tuple[str, str, Page | None]]:
    """The pages of each stream in turn, then ``None`` for "this stream is finished".

    Runs in the download thread, so the first page of the next stream is on its way while the
    last pages of this one are applied. A stream's cursor is read when its turn comes: only its
    own pages move it, and they were all applied before (the consumer keeps the order)."""
    for entity, stream in streams:
        cursor = engine._cursor(stream)
        try:
            for page in engine.adapter.pull(stream, cursor):
                yield entity, stream, page
        except MetaChanged as exc:
            exc.stream = stream  # type: ignore[attr-defined]  # where the pull starts again after the refresh
            raise
        yield entity, stream, None


def pull_streams(engine: SyncEngine, entities: tuple[str, ...]) -> None:
    """Pull every stream of ``entities`` in order through one download pipe (see the module docstring).

    A page naming an id the cached catalog lacks (``MetaChanged``): the pages before it are applied,
    the catalog is read again and the pull goes on from that stream's committed cursor (once per stream)."""
    streams = [(entity, stream) for entity in entities for stream in engine.adapter.streams(entity)]
    seen: dict[str, int] = dict.fromkeys(entities, 0)
    started: set[str] = set()
    refreshed: set[str] = set()
    start = 0
    while True:
        try:
            for batch in prefetch_groups(_stream_pages(engine, streams[start:])):
                for (entity, stream), run in groupby(batch, key=lambda item: (item[0], item[1])):
                    items = list(run)
                    if entity not in started:
                        started.add(entity)
                        engine.progress("pull", entity, 0, None)
                    pages = [page for _, _, page in items if page is not None]
                    if pages:
                        last = pages[-1]
                        engine.apply_page(entity, group_records(pages), cursor_key=stream, cursor=last.cursor, done=last.done)
                        seen[entity] += sum(len(page.records) for page in pages)
                        engine.report.pages += len(pages)
                        engine.progress("pull", entity, seen[entity], last.total_hint)
                    if len(pages) < len(items):  # the stream's end marker
                        engine.progress("pull", entity, seen[entity], seen[entity])
            return
        except MetaChanged as exc:
            stream = getattr(exc, "stream", None)
            names = [s for _, s in streams]
            if stream not in names or stream in refreshed:
                raise
            refreshed.add(stream)
            engine._refresh_meta()
            start = names.index(stream)
