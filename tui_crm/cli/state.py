"""The global options and the lazily opened store shared by commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_crm.config import Settings
    from tui_crm.services.context import Crm


@dataclass
class CliState:
    db: str | None = None
    user: str | None = None
    _crm: Crm | None = field(default=None, repr=False)
    # The app ends start-up itself, after its first frame (see tui_crm.startup).
    opening_app: bool = False
    # --format of a listing: table (default), tsv or csv (json sets the command's --json).
    format: str | None = None

    def settings(self) -> Settings:
        from tui_crm.config import load_settings

        return load_settings(db=self.db, user=self.user)

    def crm(self) -> Crm:
        """Open the store on first use (commands that never need it never pay)."""
        if self._crm is None:
            from tui_crm.services.context import open_crm
            from tui_crm.startup import release_gc

            self._crm = open_crm(self.settings())
            if not self.opening_app:
                release_gc()
        return self._crm


state = CliState()
