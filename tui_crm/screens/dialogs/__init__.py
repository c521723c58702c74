"""The modal dialogs, found from one place; their look is ``dialogs.tcss``.

Every dialog screen sets ``CSS_PATH = DIALOGS_TCSS`` and one of the
``DEFAULT_CLASSES`` the stylesheet styles (``form-dialog`` for forms and
questions, ``pick-dialog`` for pickers), instead of building CSS strings
in Python. The classes are imported from here lazily (PEP 562), so
importing one dialog does not import them all:

- forms: :class:`FormDialog` and :class:`FormField` (``widgets.form_dialog``),
  the gate form :class:`GateForm` (``widgets.gate_form``);
- questions: :class:`ConfirmDialog`, :class:`ClosingTasksDialog`,
  :class:`DuplicatePrompt`;
- pickers: :class:`ChoiceScreen`, :class:`PromptScreen`,
  :class:`MassReportScreen` (``screens.mass_action``),
  :class:`ContactPicker`, :class:`MergeDialog`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

DIALOGS_TCSS = str(Path(__file__).with_name("dialogs.tcss"))
"""The one stylesheet of every dialog (an absolute path: CSS_PATH is read relative to the class's module)."""

_WHERE = {
    "FormDialog": "tui_crm.widgets.form_dialog",
    "FormField": "tui_crm.widgets.form_dialog",
    "ConfirmDialog": "tui_crm.widgets.form_dialog",
    "GateForm": "tui_crm.widgets.gate_form",
    "ClosingTasksDialog": "tui_crm.widgets.task_dialogs",
    "DuplicatePrompt": "tui_crm.widgets.duplicate_prompt",
    "ContactPicker": "tui_crm.widgets.contact_picker",
    "MergeDialog": "tui_crm.widgets.merge_dialog",
    "ChoiceScreen": "tui_crm.screens.mass_action",
    "PromptScreen": "tui_crm.screens.mass_action",
    "MassReportScreen": "tui_crm.screens.mass_action",
}

__all__ = ["DIALOGS_TCSS", *_WHERE]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
