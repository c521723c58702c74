"""Errors a user can act on.

Every exception raised by domain/ and services/ derives from ``CrmError`` and
carries a message written for the person at the keyboard: what is wrong and
what to do. The CLI maps each class to its exit code (see ``cli/exit_codes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CrmError(Exception):
    """Base class: the message is shown to the user as is."""


class ValidationError(CrmError):
    """A value does not satisfy its field's rules; nothing was saved.

    ``field_name`` is what the message calls the field (a label, «ИНН»);
    ``key`` is the field's key where the service knows it (``company.inn``,
    ``segment``), so a form shows the error under the field that has it
    without guessing from the label.
    """

    def __init__(self, field_name: str, message: str, *, key: str | None = None) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message
        self.key = key


class NotFoundError(CrmError):
    """No record matches the id prefix or name the user gave."""


class AmbiguousError(CrmError):
    """Several records match; the user must be more specific."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


@dataclass
class MissingField:
    """A field a stage gate requires and the deal does not have."""

    key: str
    label: str
    type: str
    options: list[str] = field(default_factory=list)
    other: str | None = None  # the option that takes free text ("Другое")


class GateRefused(CrmError):
    """A stage gate refused a move; ``missing`` names every field it needs.

    ``stage_key`` is the stage refused (when the raiser knows it), so a
    retry goes to that stage even when the move was asked as "one step on".
    """

    def __init__(self, stage_name: str, missing: list[MissingField], *, stage_key: str | None = None) -> None:
        labels = ", ".join(m.label for m in missing)
        super().__init__(f"Cannot move to «{stage_name}»: missing {labels}")
        self.stage_name = stage_name
        self.stage_key = stage_key
        self.missing = missing


class NoAdjacentStage(ValidationError):
    """A one-step move from the last (or first) working stage: there is none to go to."""


class ClosingChoiceNeeded(CrmError):
    """A move would close the deal while it has open tasks a person set.

    Raised only when the caller asked to be asked (``move_deal(...,
    close_tasks=None)``): the TUI lists ``tasks`` and retries with the ids
    the user ticked. Nothing was written.
    """

    def __init__(self, stage_key: str, stage_name: str, tasks: list[Any]) -> None:
        super().__init__(f"Closing the deal as «{stage_name}»: say which of its {len(tasks)} open task(s) to complete")
        self.stage_key = stage_key
        self.stage_name = stage_name
        self.tasks = tasks


class GateHeld(GateRefused):
    """An edit would empty fields the deal's current stage requires.

    A gate holds for as long as the deal stays in that stage or later: the
    same exit code as a refused move, and ``missing`` names the fields.
    """

    def __init__(self, stage_name: str, missing: list[MissingField]) -> None:
        super().__init__(stage_name, missing)
        labels = ", ".join(m.label for m in missing)
        keys = ", ".join(m.key for m in missing)
        self.args = (
            f"{labels} ({keys}) cannot be emptied: the deal is in «{stage_name}», whose gate requires it. "
            "Enter another value, or move the deal to an earlier stage first.",
        )


class DuplicateFound(CrmError):
    """A new contact/company looks like an existing one (see ``candidates``)."""

    def __init__(self, message: str, candidates: list[object]) -> None:
        super().__init__(message)
        self.candidates = candidates


class ConfigError(CrmError):
    """The settings or pipeline TOML is invalid."""


class StoreError(CrmError):
    """The database file cannot be used as asked (read-only, disk full,
    damaged, in use by a restore...); nothing was saved."""


class StoreMissing(NotFoundError):
    """A command that only reads was pointed at a database that does not exist."""


class IncompatibleStore(ConfigError):
    """The database is not one this version may open: another program's
    SQLite file, or one made by a newer tui-crm (exit code 8, like a bad
    setting: what ``--db`` points at must change, or tui-crm)."""
