"""The signature editor: a :class:`FormDialog` whose one field is a multi-line ``TextArea``.

A signature runs over several lines (name, position, phone), which an
``Input`` cannot hold. Save (ctrl+s) goes through ``services.signatures``
like ``crm users signature``: admins only, length checked there, an empty
text clears it. The text loaded into the editor is made display-safe first
(a signature set from a file may carry escape sequences).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import TextArea

from tui_crm.domain.text import safe_text
from tui_crm.widgets.form_dialog import FormDialog, FormField


class SignatureDialog(FormDialog[tuple[str, str | None]]):
    """Edit one user's signature; the result is ``(user name, signature)`` as saved."""

    DEFAULT_CSS = """
    SignatureDialog #field-signature { height: 8; margin-bottom: 0; }
    """

    def __init__(self, user_name: str, signature: str | None, save: Callable[[str], tuple[str, str | None]]) -> None:
        intro = Text("Added under every message ")
        intro.append(safe_text(user_name, keep_newlines=False), style="bold")
        intro.append(" sends. Empty removes it. ctrl+s saves, esc cancels.")
        super().__init__(
            "Mail signature",
            [FormField("signature", "Signature", value=safe_text(signature or ""))],
            lambda values: save(str(values["signature"])),
            intro=intro,
        )

    @staticmethod
    def _input_for(spec: FormField) -> Widget:
        return TextArea(str(spec.value), id=spec.dom_id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")

    def values(self) -> dict[str, Any]:
        return {"signature": self.query_one("#field-signature", TextArea).text}
