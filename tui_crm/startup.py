"""Process start-up: the console entry points and the garbage collector.

Importing the store (SQLAlchemy, SQLModel, the model classes) and Textual
allocates some hundred thousand long-lived objects, and the cyclic garbage
collector rescans them again and again while they are being created: about
a tenth of a cold ``crm add lead``. The entry points therefore start with the
collector paused; once start-up is over (the store is open, or the app has
drawn its first frame) :func:`release_gc` moves everything that exists into
the permanent generation and turns the collector back on, so long-running
work (the app, a sync) is collected as usual without rescanning start-up
objects.
"""

from __future__ import annotations

import gc


def hold_gc() -> None:
    """Pause the cyclic collector for the imports of a fresh process."""
    gc.disable()


def release_gc() -> None:
    """End of start-up: freeze what exists, collect normally from here on.

    Does nothing when the collector is already running (an embedding process
    such as the test runner never paused it).
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def run() -> None:
    """``crm``: the command line (alone it opens the app)."""
    hold_gc()
    from tui_crm.cli.main import run as run_cli

    run_cli()


def run_tui() -> None:
    """``tui-crm``: the app; the same global options and commands as ``crm``."""
    run()
