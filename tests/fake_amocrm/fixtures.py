"""Pytest fixture for the fake amoCRM.

Import ``fake_amo`` into a conftest (``from tests.fake_amocrm.fixtures import
fake_amo``) to give every test a fresh, running fake that is stopped after
the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeAmo


@pytest.fixture
def fake_amo() -> Iterator[FakeAmo]:
    """A running :class:`FakeAmo` on 127.0.0.1, fresh for each test."""
    fake = FakeAmo.start()
    try:
        yield fake
    finally:
        fake.stop()
