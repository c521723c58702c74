"""Child process of bench_tui.py: start the app the way ``crm`` does, headless,
report when the board is interactive, then time pipeline switches.

    python bench/tui_probe.py DB SWITCHES

The process runs the real console entry, ``tui_crm.startup.run`` with
``crm --db DB`` as its command line: the garbage collector paused during the
start-up imports, Typer parsing the options, the store opened by the CLI and
``open_tui`` building the app. The only difference from a terminal is the
last step: an import hook wraps ``CrmApp.run`` (once ``tui_crm.app`` has been
imported by the CLI, so the probe adds no import of its own before that) and
runs the app under Textual's ``run_test`` driver instead — the same widgets
and layout, no terminal I/O.

Prints one JSON line: {"ready": wall-clock epoch when the first board frame
with every column loaded was rendered, "switch_ms": [...]}.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

RESULT: dict[str, Any] = {}


async def drive(app: Any, switches: int) -> None:
    """Wait for the loaded board, note the time, then switch pipelines."""
    import asyncio

    from tui_crm.screens.board import BoardScreen

    async with app.run_test(size=(160, 48)) as pilot:

        async def board_on(key: str | None) -> BoardScreen:
            while True:
                screen = app.screen
                if isinstance(screen, BoardScreen) and screen.pipeline is not None and screen.columns:
                    if key is None or screen.pipeline.key == key:
                        await pilot.pause()  # let that frame render
                        return screen
                await asyncio.sleep(0.002)

        board = await board_on(None)
        RESULT["ready"] = time.time()
        keys = [p.key for p in board.pipelines]
        switch_ms: list[float] = []
        for _ in range(switches):
            target = keys[(keys.index(board.pipeline.key) + 1) % len(keys)]
            start = time.perf_counter()
            board.pipeline_key = target
            board.reload()
            board = await board_on(target)
            switch_ms.append((time.perf_counter() - start) * 1000)
        RESULT["switch_ms"] = switch_ms


class _AppHook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``tui_crm.app`` as usual and, once it has run, makes ``run`` headless."""

    def __init__(self, switches: int) -> None:
        self.switches = switches
        self.inner: importlib.abc.Loader | None = None

    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "tui_crm.app":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        self.inner, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        assert self.inner is not None
        self.inner.exec_module(module)
        switches = self.switches

        def run_headless(app: Any, *args: Any, **kwargs: Any) -> None:
            import asyncio  # here, not at the top: the real entry imports it during start-up

            asyncio.run(drive(app, switches))

        module.CrmApp.run = run_headless  # type: ignore[attr-defined]


def main(db: Path, switches: int) -> None:
    sys.meta_path.insert(0, _AppHook(switches))
    sys.argv = ["crm", "--db", str(db)]
    from tui_crm.startup import run

    try:
        run()
    except SystemExit as exit_:
        if exit_.code:
            raise
    print(json.dumps(RESULT), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
