"""A process that files pending intake mail and dies at a chosen point (not a test module).

    python intake_crash_proc.py DB POINT

It opens the store as «Анна» and runs ``process_pending_mail``. ``POINT``
names where the process is killed (``os._exit``: no cleanup, no rollback
code runs, as with a power cut or ``kill -9``):

``after-lead``  right after ``capture_lead`` returned (its commit is durable)
                and before anything else of the intake ran.

It prints ``SURVIVED`` if it got to the end, which the test treats as a failure
to crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    db, point = Path(sys.argv[1]), sys.argv[2]
    from tui_crm.config import load_settings
    from tui_crm.services import deals
    from tui_crm.services.context import open_crm
    from tui_crm.services.intake import process_pending_mail

    if point == "after-lead":
        original = deals.capture_lead

        def capture_then_die(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - a pass-through
            original(*args, **kwargs)
            os._exit(9)

        deals.capture_lead = capture_then_die
    else:
        raise SystemExit(f"unknown point {point}")
    crm = open_crm(load_settings(db=db, user="Анна"))
    process_pending_mail(crm)
    print("SURVIVED", flush=True)


if __name__ == "__main__":
    main()
