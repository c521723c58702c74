"""The app's mail worker: new INBOX mail within seconds through IMAP IDLE.

:func:`watch_mail` first fetches every mailbox (and sends the outbox), then
keeps one connection per mailbox waiting in IDLE on its INBOX (RFC 2177).
When the server announces a change, that mailbox is fetched at once (the
same incremental fetch as ``crm mail fetch``) and ``arrived(n)`` is told. The
IDLE is ended and issued again every ``renew_s`` seconds (under the 29
minutes after which a server may drop an idle client). A mailbox whose
server has no IDLE is left to the app's interval fetch, which also keeps
reading Sent and sending the outbox. A dropped connection is reopened with
a growing pause (5 s up to 5 minutes); ``stop()`` ends everything within
about half a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tui_crm.domain.errors import CrmError
from tui_crm.mail.imap import ImapSession, MailError
from tui_crm.services.context import Crm
from tui_crm.services.mail_fetch import FETCH_LOCK, fetch_in_background, fetch_mail
from tui_crm.services.mailboxes import is_removed, mailboxes_for, server_address
from tui_crm.storage.mail_tables import Mailbox

log = logging.getLogger("tui_crm.mail")

RENEW_S = 25 * 60  # re-issue IDLE well within the 29 minutes RFC 2177 allows
BACKOFF_S = (5, 300)  # first and longest pause before reconnecting
SLICE_S = 0.5  # how often stop() is looked at

Stop = Callable[[], bool]
Arrived = Callable[[int], None]
Idling = Callable[[str, bool], None]  # (mailbox name, idling now)


def start_watching(crm: Crm, arrived: Arrived, idling: Idling | None = None) -> Callable[[], None]:
    """:func:`watch_mail` in a daemon thread of its own; returns the function that stops it.

    Not a Textual worker: it lives as long as the app, and what waits for
    the app's workers to finish (tests settling a screen) must not wait for it.
    """
    stopped = threading.Event()
    thread = threading.Thread(
        target=watch_mail, args=(crm, stopped.is_set, arrived, idling), name="mail-watch", daemon=True
    )
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(timeout=5)

    return stop


def watch_mail(crm: Crm, stop: Stop, arrived: Arrived, idling: Idling | None = None, renew_s: float = RENEW_S) -> None:
    """Fetch everything once, then IDLE on every mailbox's INBOX until ``stop()``; see the module docstring."""
    try:
        first = fetch_in_background(crm)
    except CrmError as exc:  # a busy store, a missing password: the interval fetch tries again
        log.warning("mail: %s", exc)
        first = 0
    if first:
        arrived(first)
    boxes = [m for m in mailboxes_for(crm, None) if not is_removed(m)]
    threads = [
        threading.Thread(
            target=_watch_one, args=(crm, box, stop, arrived, idling, renew_s), name=f"imap-idle-{box.name}", daemon=True
        )
        for box in boxes
    ]
    for thread in threads:
        thread.start()
    while not stop() and any(t.is_alive() for t in threads):
        time.sleep(SLICE_S)
    for thread in threads:  # each ends its IDLE and logs out within a slice
        thread.join(timeout=5)


def _watch_one(crm: Crm, mailbox: Mailbox, stop: Stop, arrived: Arrived, idling: Idling | None, renew_s: float) -> None:
    pause = BACKOFF_S[0]
    while not stop():
        try:
            with ImapSession(server_address(mailbox)) as imap:
                if not imap.can_idle():
                    log.info("mailbox %s: the server has no IDLE; the interval fetch reads it", mailbox.name)
                    return
                imap.select("INBOX")
                if idling:
                    idling(mailbox.name, True)
                pause = BACKOFF_S[0]
                while not stop():
                    if imap.idle_for(renew_s, stop, SLICE_S) and not stop():
                        count = _fetch_one(crm, mailbox)
                        if count:
                            arrived(count)
        except MailError as exc:
            log.warning("mailbox %s: IDLE: %s; reconnecting in %d s", mailbox.name, exc, pause)
        except CrmError as exc:  # no password in the secret store, the mailbox removed: nothing to watch
            log.warning("mailbox %s: IDLE stopped: %s", mailbox.name, exc)
            return
        finally:
            if idling:
                idling(mailbox.name, False)
        deadline = time.monotonic() + pause
        while not stop() and time.monotonic() < deadline:
            time.sleep(SLICE_S)
        pause = min(pause * 2, BACKOFF_S[1])


def _fetch_one(crm: Crm, mailbox: Mailbox) -> int:
    """Fetch the mailbox IDLE woke us for; its error is kept on it (``crm mail list``), not raised."""
    try:
        with FETCH_LOCK:
            reports = fetch_mail(crm, mailbox.id)
    except CrmError as exc:
        log.warning("mailbox %s: %s", mailbox.name, exc)
        return 0
    return sum(r.new for r in reports)
