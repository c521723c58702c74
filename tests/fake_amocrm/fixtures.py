"""Pytest fixtures for the fake amoCRM (and a test keyring and a connected store).

Import ``fake_amo`` into a conftest (``from tests.fake_amocrm.fixtures import
fake_amo``) to give every test a fresh, running fake that is stopped after
the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keyring
import pytest

from .keyrings import MemoryKeyring
from .server import FakeAmo


@pytest.fixture
def fake_amo() -> Iterator[FakeAmo]:
    """A running :class:`FakeAmo` on 127.0.0.1, fresh for each test."""
    fake = FakeAmo.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory keyring for the test, the previous backend restored after."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def fake() -> Iterator[FakeAmo]:
    """A running fake with its rate limit lifted (tests that need it turn it on)."""
    server = FakeAmo.start()
    server.limits.enabled = False
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(crm: Any, fake: FakeAmo, memory_keyring: MemoryKeyring) -> Any:
    """The requesting test's ``crm`` connected to the fake with its long-lived token."""
    from tui_crm.services.sync import connect_amocrm

    connect_amocrm(crm, base_url=fake.base_url, long_lived_token=fake.token)
    return crm
