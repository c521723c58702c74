"""One gate-move flow: move a deal; when the service refuses, ask and retry.

The board (``]``/``[``), the card (``]``/``[`` and the stage field), and
through :func:`gate_form` the mass close and the deal copy all change a
stage the same way:

1. ``services.deals.move_deal`` in a thread worker (``step=±1`` or a
   stage), asked to ask (``close_tasks=None``);
2. ``ClosingChoiceNeeded``: the closing dialog lists the tasks people set;
   the choice goes with the retry;
3. ``GateRefused``: the :class:`~tui_crm.widgets.gate_form.GateForm` with
   exactly the missing fields; what was typed goes with the retry, to the
   stage the refusal names (a step is taken once, never twice);
4. ``ValidationError`` about a typed value: the form again, the error under
   the field whose key the service named (``ValidationError.key``), what
   was typed kept;
5. Escape on any dialog: nothing was written, a one-line notice says so.

The host screen only says what to do once the deal has moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.screen import Screen

from tui_crm.domain.errors import (
    ClosingChoiceNeeded,
    CrmError,
    GateRefused,
    MissingField,
    NoAdjacentStage,
    ValidationError,
)
from tui_crm.domain.text import safe_text
from tui_crm.services.deals import move_deal
from tui_crm.services.views import MoveOutcome
from tui_crm.widgets.gate_form import GateForm
from tui_crm.widgets.plain_text import crm_of, error_message

STILL_MISSING = "Still missing — fill these too:"


def field_errors(error: BaseException, missing: list[MissingField]) -> dict[str, str]:
    """A service's refusal of a typed value, keyed by the form field it is about.

    Matched by the key the service put on the error, never by its label
    (which may be «ИНН компании» for ``company.inn``); empty when the error
    is not about one of ``missing``.
    """
    key = getattr(error, "key", None)
    if isinstance(error, ValidationError) and key in {m.key for m in missing}:
        return {key: error.message}
    return {}


def gate_form(
    deal_name: str,
    stage_name: str,
    missing: list[MissingField],
    values: dict[str, str] | None = None,
    error: BaseException | None = None,
    *,
    deal_id: str | None = None,
    title: str | None = None,
    message: str | None = None,
) -> GateForm:
    """The gate form for ``missing``, with ``error`` (a refusal of what was
    typed) under its field, or above the fields when it is about none."""
    errors = field_errors(error, missing) if error is not None else {}
    if error is not None and not errors:
        message = error_message(error)
    return GateForm(deal_name, stage_name, missing, values, errors, message, deal_id=deal_id, title=title)


def moved_note(outcome: MoveOutcome) -> str:
    """The notice after a move: where the deal went, and what that did to its tasks."""
    text = f"«{safe_text(outcome.deal_name, keep_newlines=False)}» → {outcome.to_stage}"
    if outcome.auto_task:
        text += f"\nnew task: {outcome.auto_task}"
    if outcome.tasks_completed or outcome.tasks_kept:
        text += f"\ntasks: {len(outcome.tasks_completed)} completed, {len(outcome.tasks_kept)} kept open"
    return text


@dataclass
class MoveRequest:
    """What one move asks for; refusals fill it in until the move goes through."""

    deal_id: str
    deal_name: str
    stage_key: str | None = None
    """The target; None with a ``step`` (set from the first refusal on)."""
    step: int = 0
    values: dict[str, str] = field(default_factory=dict)
    """Typed in the gate form, sent with every retry."""
    close_tasks: frozenset[str] | None = None
    """The tasks people set to complete with a close; None: not asked yet."""
    stage_name: str = ""
    missing: list[MissingField] = field(default_factory=list)
    """The fields of the last gate refusal (the form's fields)."""


class GateMove:
    """Drives one :class:`MoveRequest` for ``host`` (see the module docstring).

    ``on_moved`` runs on the UI thread with the outcome. ``on_asking`` runs
    before a dialog opens, with the refusal that opened it (the card ends
    the stage field's edit and shows the refusal under it). ``on_error``
    gets a refusal nothing can be asked about (default: an error notice).
    """

    def __init__(
        self,
        host: Screen[Any],
        request: MoveRequest,
        on_moved: Callable[[MoveOutcome], None],
        *,
        on_asking: Callable[[CrmError], None] | None = None,
        on_error: Callable[[CrmError], None] | None = None,
    ) -> None:
        self.host = host
        self.request = request
        self.on_moved = on_moved
        self.on_asking = on_asking
        self.on_error = on_error

    def start(self) -> GateMove:
        self.host.run_worker(self._attempt, thread=True, group="gate-move", exclusive=True, exit_on_error=False)
        return self

    # ---- worker thread ----------------------------------------------------
    def _attempt(self) -> None:
        request = self.request
        call = self.host.app.call_from_thread
        try:
            outcome = move_deal(
                crm_of(self.host),
                request.deal_id,
                request.stage_key,
                set_values=request.values or None,
                close_tasks=request.close_tasks,
                step=request.step,
            )
        except ClosingChoiceNeeded as asked:
            call(self._ask_closing, asked)
        except GateRefused as refusal:
            call(self._ask_gate, refusal, None)
        except NoAdjacentStage as end:
            call(self._notify, end.message, "information")
        except ValidationError as error:
            call(self._refused_value, error)
        except CrmError as error:
            call(self._failed, error)
        else:
            call(self.on_moved, outcome)

    # ---- UI thread --------------------------------------------------------
    def _notify(self, text: str, severity: str = "information") -> None:
        self.host.app.notify(text, severity=severity, markup=False)  # type: ignore[arg-type]

    def _cancelled(self) -> None:
        name = safe_text(self.request.deal_name, keep_newlines=False)
        self._notify(f"Not moved: «{name}» stays where it was")

    def _failed(self, error: CrmError) -> None:
        if self.on_error is not None:
            self.on_error(error)
        else:
            self._notify(error_message(error), "error")

    def _ask_closing(self, asked: ClosingChoiceNeeded) -> None:
        from tui_crm.widgets.task_dialogs import ClosingTasksDialog

        request = self.request
        request.stage_key, request.stage_name = asked.stage_key, asked.stage_name

        def chosen(ids: frozenset[str] | None) -> None:
            if ids is None:
                self._cancelled()
                return
            request.close_tasks = ids
            self.start()

        if self.on_asking is not None:
            self.on_asking(asked)
        self.host.app.push_screen(ClosingTasksDialog(request.deal_name, asked.stage_name, asked.tasks), chosen)

    def _ask_gate(self, refusal: GateRefused, error: ValidationError | None) -> None:
        request = self.request
        if refusal.stage_key is not None:
            request.stage_key = refusal.stage_key
        request.stage_name, request.missing = refusal.stage_name, refusal.missing
        again = bool(request.values) and error is None

        def retry(filled: dict[str, str] | None) -> None:
            if filled is None:
                self._cancelled()
                return
            request.values = {**request.values, **filled}
            self.start()

        if self.on_asking is not None:
            self.on_asking(error or refusal)
        form = gate_form(
            request.deal_name, refusal.stage_name, refusal.missing, request.values, error,
            deal_id=request.deal_id, message=STILL_MISSING if again else None,
        )  # fmt: skip
        self.host.app.push_screen(form, retry)

    def _refused_value(self, error: ValidationError) -> None:
        """A value typed in the form was refused by the service: back to the form."""
        request = self.request
        if not request.missing or request.stage_key is None:
            self._failed(error)  # not about the form (e.g. the inbox is no stage)
            return
        self._ask_gate(GateRefused(request.stage_name, request.missing, stage_key=request.stage_key), error)
