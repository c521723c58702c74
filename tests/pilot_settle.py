"""``settle(pilot)``: the one way a Pilot test waits for the app to be done.

A key press starts workers (database reads and writes in threads), whose
results come back as messages that re-render widgets, which may start more
workers. ``settle`` waits until that chain has run out: no thread worker
running, none of Textual's own async workers (the command palette's search)
running, and no message waiting in the app's, the screen's or a widget's
queue, seen twice in a row; then one idle pause lets the last repaint land.

The app's own async workers are not waited for: each of them waits on a
dialog (``push_screen_wait``) the test has yet to answer; the thread
workers they start after the answer are.

It returns as soon as the app is quiet, instead of sleeping a fixed number
of rounds, so a test pays for the work its keys cause and not for waiting.
``until`` keeps settling until a condition holds (a write, the card's
re-read and its re-mount are three hops), for at most ``rounds`` settles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerError, WorkerFailed, WorkerState

QUIET_CHECKS = 2  # consecutive quiet checks before the app counts as settled
MAX_CHECKS = 100  # a worker chain that never ends fails the test's own assertion, not a hang here


async def settle(pilot: Pilot[Any], rounds: int = 10, until: Callable[[], bool] | None = None) -> None:
    """Wait until the app is quiet (see the module docstring); with ``until``, until it also holds."""
    if until is None:
        await _settle_once(pilot)
        return
    for _ in range(rounds):
        await _settle_once(pilot)
        if until():
            return


async def _settle_once(pilot: Pilot[Any]) -> None:
    quiet = 0
    for _ in range(MAX_CHECKS):
        waited = await _wait_for_workers(pilot)
        await pilot._wait_for_screen()  # every message queued so far is handled
        await asyncio.sleep(0)
        if waited or _messages_pending(pilot):
            quiet = 0
            continue
        quiet += 1
        if quiet >= QUIET_CHECKS:
            break
    await pilot.pause()


def _awaited(worker: Any) -> bool:
    """A worker ``settle`` waits for: a thread (database work) or one of Textual's own."""
    if worker.state not in (WorkerState.PENDING, WorkerState.RUNNING):
        return False
    return bool(worker._thread_worker) or type(worker.node).__module__.startswith("textual.")


async def _wait_for_workers(pilot: Pilot[Any]) -> bool:
    """Wait for the workers ``settle`` waits for; whether there were any."""
    busy = [w for w in pilot.app.workers if _awaited(w)]
    for worker in busy:
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass  # superseded by a newer worker, or reported by the screen
        except WorkerError:  # not started yet: give the loop a turn, the next check waits for it
            await asyncio.sleep(0)
    return bool(busy)


def _messages_pending(pilot: Pilot[Any]) -> bool:
    app = pilot.app
    nodes = [app]
    try:
        nodes += list(app.screen.walk_children(with_self=True))
    except Exception:  # noqa: BLE001 - no screen yet (or any more): nothing queued on it
        pass
    return any(not node._message_queue.empty() for node in nodes)
