"""The global options and the lazily opened store shared by commands."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_crm.config import Settings
    from tui_crm.services.context import Crm

# The commands that may create a new database: those that put something
# into an empty store ("" is ``crm`` alone, the app; "add" covers every
# ``crm add ...``). Any other command on a database that does not exist says
# so instead of leaving an empty file and its folders behind (a typo in --db).
CREATING_COMMANDS = frozenset({"", "users add", "demo", "pipelines edit", "pipelines reload", "unsorted add", "sync"})
CREATING_GROUPS = frozenset({"add", "auth"})


def invoked_command() -> str | None:
    """The command being run, without the program name ("deals list"), if known."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - a Typer that uses click itself
        from click import get_current_context  # type: ignore[no-redef]
    ctx = get_current_context(silent=True)
    if ctx is None:
        return None
    names: list[str] = []
    while ctx.parent is not None:  # the root's name is the program's, however it was started
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(names)


def may_create(command: str | None) -> bool:
    if command is None:
        return True
    return command in CREATING_COMMANDS or command.split(" ")[0] in CREATING_GROUPS


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
        """Open the store on first use (commands that never need it never pay).

        Only a command that writes creates a missing store, and it says where
        on stderr (stdout may be a script's JSON).
        """
        if self._crm is None:
            from tui_crm.services.context import open_crm
            from tui_crm.startup import release_gc

            self._crm = open_crm(self.settings(), create=may_create(invoked_command()))
            if self._crm.created:
                print(f"Created a new database at {self._crm.settings.db_path}", file=sys.stderr)
            if not self.opening_app:
                release_gc()
                _tell(self._crm.notices)
        return self._crm


def _tell(notices: list[str]) -> None:
    """What opening the store had to say (a broken pipelines file...): one line each on stderr."""
    import sys

    from tui_crm.domain.text import safe_text

    for notice in notices:
        print(f"warning: {safe_text(notice, keep_newlines=False)}", file=sys.stderr)


state = CliState()
