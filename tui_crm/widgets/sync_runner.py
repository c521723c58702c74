"""What the TUI says about a sync: progress, outcome, failures.

The app runs :func:`tui_crm.services.sync.run_sync` in a thread worker
(``CrmApp.action_sync_now``); this module turns what the engine reports
into short plain-text lines for the status bar and notifications, so the
wording lives in one place and can be tested without an app:

* :class:`ProgressLine`: the engine's ``progress(phase, entity, done,
  total)`` calls as ``push deals 3/10``, at most a few times a second;
* :func:`summarize`: a finished :class:`~tui_crm.sync.engine.SyncReport`
  as one notification (severity, text);
* :func:`explain_failure`: an exception the sync raised as what to do
  (not connected, locked out, no network, another sync running);
* :func:`sync_interval_minutes`: ``sync_interval_minutes`` from
  ``config.toml`` (0, the default, means no background sync).

Everything returned is plain text made safe with ``safe_text``: callers
show it with ``markup=False`` or as ``rich.text.Text``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tui_crm.domain.text import safe_text

if TYPE_CHECKING:
    from tui_crm.sync.engine import SyncReport

Severity = Literal["information", "warning", "error"]

# The engine's entity names as people read them.
ENTITY_WORDS = {
    "account": "account",
    "company": "companies",
    "contact": "contacts",
    "deal": "deals",
    "task": "tasks",
    "note": "notes",
    "unsorted": "unsorted",
    "unsorted_entry": "unsorted",
    "events": "deletions",
}
CONNECT_HINT = (
    "No amoCRM account is connected. Connect one in a terminal: "
    "crm auth amocrm --subdomain NAME --long-lived-token TOKEN "
    "(or --client-id ID --client-secret SECRET --code CODE), then sync again."
)


def entity_word(entity: str) -> str:
    return ENTITY_WORDS.get(entity, entity.replace("_", " "))


def describe_progress(phase: str, entity: str, done: int, total: int | None) -> str:
    """``push deals 3/10``, ``pull contacts 250`` (no total known yet)."""
    count = f"{done}/{total}" if total is not None and total >= done else (str(done) if done else "")
    return safe_text(" ".join(part for part in (phase, entity_word(entity), count) if part), keep_newlines=False)


class ProgressLine:
    """Throttles the engine's progress calls: a new entity or phase always
    passes, further counts at most every ``every`` seconds."""

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self._last_key: tuple[str, str] | None = None
        self._last_at = 0.0

    def __call__(self, phase: str, entity: str, done: int, total: int | None) -> str | None:
        now = time.monotonic()
        key = (phase, entity)
        finished = total is not None and done >= total
        if key != self._last_key or finished or now - self._last_at >= self.every:
            self._last_key, self._last_at = key, now
            return describe_progress(phase, entity, done, total)
        return None


@dataclass(frozen=True)
class Outcome:
    severity: Severity
    text: str
    title: str = "Sync"


def summarize(report: SyncReport, conflicts_key: str = "C") -> Outcome:
    """One notification for a finished sync (conflicts and refused records first)."""
    sent = sum(s.pushed_new + s.pushed_changed for s in report.stats.values())
    got = sum(s.pulled_new + s.pulled_changed for s in report.stats.values())
    deleted = sum(s.deleted_local for s in report.stats.values())
    if sent or got or deleted:
        parts = [f"sent {sent}", f"received {got}"] + ([f"deleted here {deleted}"] if deleted else [])
        lines = ["Done: " + ", ".join(parts) + "."]
    else:
        lines = ["Done: nothing changed on either side."]
    severity: Severity = "information"
    if report.conflicts or report.notices:
        what = []
        if report.conflicts:
            what.append(f"{report.conflicts} new conflict{'s' if report.conflicts != 1 else ''}")
        if report.notices:
            what.append(f"{report.notices} notice{'s' if report.notices != 1 else ''}")
        lines.append(f"{' and '.join(what)}: press {conflicts_key} to resolve.")
        severity = "warning"
    if report.errors:
        shown = report.errors[:3]
        more = len(report.errors) - len(shown)
        lines.append(f"Not sent ({len(report.errors)}): " + "; ".join(shown) + (f"; and {more} more" if more else ""))
        lines.append("They stay pending; sync again after fixing them.")
        severity = "error"
    for warning in report.warnings[:2]:
        lines.append(f"Warning: {warning}")
    return Outcome(severity, safe_text("\n".join(lines)))


def explain_failure(exc: BaseException) -> Outcome:
    """What a failed sync means for the user, and what to do about it."""
    from tui_crm.domain.errors import CrmError
    from tui_crm.services.sync import SyncNotConfigured
    from tui_crm.sync.amocrm.errors import AmoLockedOut, AmoUnavailable
    from tui_crm.sync.engine import SyncBusy

    if isinstance(exc, SyncNotConfigured):
        return Outcome("warning", CONNECT_HINT, "Sync: no account")
    if isinstance(exc, SyncBusy):
        return Outcome("warning", "Another sync of this store is running (maybe `crm sync` in a terminal); try again later.")
    if isinstance(exc, AmoLockedOut):
        title = "Sync: locked out"
    elif isinstance(exc, AmoUnavailable):
        title = "Sync: no connection"
    else:
        title = "Sync failed"
    if isinstance(exc, CrmError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    batch = getattr(exc, "batch", None)
    if batch is not None:
        text += f"\n{len(batch.done)} records were confirmed before the failure; sync again to finish."
    else:
        text += "\nWhat was confirmed is kept; sync again to finish."
    return Outcome("error", safe_text(text), title)


def sync_interval_minutes(config_dir: Path) -> float:
    """``sync_interval_minutes`` from ``config.toml``; 0 (off) when missing or unreadable.

    The app reads ``crm.settings.sync_interval_minutes``; this is the same
    parse for a config folder alone."""
    from tui_crm.config import options_in

    return options_in(config_dir).sync_interval_minutes
