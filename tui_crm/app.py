"""The Textual application (skeleton: the board helper fills it in).

Contract every screen relies on: ``self.app.crm`` is the open
``tui_crm.services.context.Crm``; screens call services only (never
storage), and do database work in thread workers.
"""

from __future__ import annotations

from textual.app import App

from tui_crm.services.context import Crm


class CrmApp(App[None]):
    TITLE = "tui-crm"

    def __init__(self, crm: Crm, pipeline: str | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.pipeline_key = pipeline or crm.settings.default_pipeline


def make_app(crm: Crm, pipeline: str | None = None) -> CrmApp:
    """Used by ``crm`` with no arguments and by the tests."""
    return CrmApp(crm, pipeline)
