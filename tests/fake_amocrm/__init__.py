"""A fake amoCRM/Kommo REST API v4 served on loopback for tests.

Use the ``fake_amo`` fixture (``tests/fake_amocrm/fixtures.py``) or
``FakeAmo.start()``; see :mod:`.server` for the behaviour and the choices it
makes where the real API is undocumented, and :mod:`.faults` for the knobs.
"""

from __future__ import annotations

from .faults import Faults, Limits
from .server import FakeAmo, RecordedRequest
from .state import FakeClock

__all__ = ["FakeAmo", "FakeClock", "Faults", "Limits", "RecordedRequest"]
