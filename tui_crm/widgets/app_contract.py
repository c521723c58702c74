"""What screens and widgets may ask of the app: typed state and messages.

Screens never reach into the app by name (``getattr(self.app, …)``) nor
write its attributes. They read the state every host app has, typed by
:class:`CrmHost` (the open store, the pipeline the board shows), and post
the messages below; a message posted by a screen bubbles to the app, which
acts on it. An app that does not handle one (the tests' one-screen app)
ignores it, so a screen works the same on its own.

Textual's ``Worker.StateChanged`` does not bubble: a screen's worker that
fails would end silently. :class:`ReportsFailedWorkers` (a base of every
screen and dialog that runs workers) forwards the failure as
:class:`WorkerFailed`, which does, so the app shows one notice for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from textual.message import Message
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from tui_crm.services.context import Crm


class CrmHost(Protocol):
    """The app as screens see it (``CrmApp``, and the tests' ``ScreensApp``)."""

    crm: Crm
    pipeline_key: str
    """The pipeline the board shows (a reactive on ``CrmApp``); quick add, Unsorted and new deals start there."""


def host_of(node: DOMNode) -> CrmHost:
    """The running app, typed by the contract every host app honours."""
    return cast("CrmHost", node.app)


@dataclass
class OpenCard(Message):
    """Open the card of a record above the current screen."""

    entity_type: str
    entity_id: str


class StoreChanged(Message):
    """A write changed what the status bar counts (pending changes, conflicts): poll now."""


@dataclass
class PipelineShown(Message):
    """The board now shows this pipeline: the app's ``pipeline_key`` follows."""

    key: str


@dataclass
class DealsDeleted(Message):
    """A mass delete went through: ``z`` can undo that batch."""

    batch_id: str
    count: int


@dataclass
class WorkerFailed(Message):
    """A worker ended with an exception it did not handle (see ``ReportsFailedWorkers``)."""

    worker: Worker[object]


class ReportsFailedWorkers:
    """Mixin for screens and dialogs: their failed workers reach the app as ``WorkerFailed``."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(WorkerFailed(event.worker))  # type: ignore[attr-defined]
