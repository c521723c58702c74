"""Child process of bench_tui.py: start the app headless, report when the
board is interactive, then time pipeline switches.

Prints one JSON line: {"ready": wall-clock epoch when the first board frame
with every column loaded was rendered, "switch_ms": [...]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


async def main(db: Path, switches: int) -> None:
    from tui_crm.app import make_app
    from tui_crm.config import load_settings
    from tui_crm.screens.board import BoardScreen
    from tui_crm.services.context import open_crm

    crm = open_crm(load_settings(db=db))
    app = make_app(crm)
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
        ready = time.time()
        keys = [p.key for p in board.pipelines]
        switch_ms: list[float] = []
        for i in range(switches):
            target = keys[(keys.index(board.pipeline.key) + 1) % len(keys)]
            start = time.perf_counter()
            board.pipeline_key = target
            board.reload()
            board = await board_on(target)
            switch_ms.append((time.perf_counter() - start) * 1000)
            del i
    print(json.dumps({"ready": ready, "switch_ms": switch_ms}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
