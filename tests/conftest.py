"""Shared fixtures: a real SQLite store under ``tmp_path`` and a clock the
test controls.

Kept light on purpose (other test folders load this file too): nothing is
autouse, and a store is opened only by the tests that ask for ``crm``.

- ``clock``: a ``MutableClock`` starting Thursday 2026-11-26 12:00 Moscow
  time; ``clock.advance(days=1)`` / ``clock.set(moment)`` move it.
- ``crm_env``: ``CRM_CONFIG_DIR`` (and data dir) under ``tmp_path``, with
  ``CRM_DB`` / ``CRM_USER`` from the developer's shell removed.
- ``crm``: ``open_crm(load_settings(db=tmp_path/'crm.db', user='Анна'))`` in
  Europe/Moscow on that clock; user «Анна» is created as the first admin.
- ``open_store``: opens another ``Crm`` on the same file (another user, a
  re-open after a restore...), or on a path of the test's choosing (a fresh
  file is created and migrated); each is closed at teardown.

The test's ``crm.db`` starts as a copy of a template made once per session
(migrated, pipelines applied, «Анна» created): migrating a new file costs
a third of a second, which adds up over a few hundred tests. Tests about
creating and migrating a file pass their own ``db=`` path.
- ``count_rows``: row counts of tables, to prove "nothing was written".
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

# The fake amoCRM, a test keyring and a connected store, for tests/sync and tests/tui;
# the fake Bank of Russia rates service (``cbr``).
pytest_plugins = ["tests.fake_amocrm.fixtures", "tests.fake_cbr"]

# No test reaches the real Bank of Russia: without the ``cbr`` fixture the
# rate service is a closed loopback port (a closing then asks for the amount).
os.environ.setdefault("CRM_RATES_URL", "http://127.0.0.1:9/scripts/XML_daily.asp")

MSK = ZoneInfo("Europe/Moscow")
# A Thursday; Friday 27, weekend 28-29, Monday 30 November.
START = datetime(2026, 11, 26, 12, 0, tzinfo=MSK)


class MutableClock:
    """A clock a test moves by hand; pass it as ``open_crm(..., clock=...)``."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.now = moment

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def crm_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config and data dirs under ``tmp_path``; returns the config dir."""
    config = tmp_path / "cfg"
    monkeypatch.setenv("CRM_CONFIG_DIR", str(config))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_DB", raising=False)
    monkeypatch.delenv("CRM_USER", raising=False)
    return config


@pytest.fixture(scope="session")
def _crm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store with the default pipelines and «Анна», closed."""
    from tui_crm.config import Settings
    from tui_crm.services.context import open_crm

    root = tmp_path_factory.mktemp("crm-template")
    db = root / "crm.db"
    settings = Settings(db_path=db, files_dir=root / "files", config_dir=root / "cfg", user="Анна", timezone="Europe/Moscow")
    open_crm(settings, clock=MutableClock()).close()
    assert not Path(f"{db}-wal").exists()
    return db


@pytest.fixture
def open_store(tmp_path: Path, crm_env: Path, clock: MutableClock, _crm_template: Path) -> Iterator[Callable[..., object]]:
    """``open_store(user='Анна', db=None)``: a ``Crm`` on the test's database."""
    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm

    opened: list[object] = []

    def _open(user: str | None = "Анна", db: Path | None = None, timezone: str = "Europe/Moscow"):
        if db is None:
            db = tmp_path / "crm.db"
            if not db.exists():
                shutil.copyfile(_crm_template, db)
                db.chmod(0o600)
        settings = load_settings(db=db, user=user)
        settings.timezone = timezone
        store = open_crm(settings, clock=clock)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()  # type: ignore[attr-defined]


@pytest.fixture
def crm(open_store: Callable[..., object]) -> object:
    """The store of the test: user «Анна» (admin), Moscow time, ``clock``."""
    return open_store()


@pytest.fixture
def count_rows() -> Callable[..., dict[str, int]]:
    """``count_rows(crm_or_path, 'deal', 'contact', ...)``: rows per table (tombstones included)."""

    def _count(target: object, *tables: str) -> dict[str, int]:
        path = target if isinstance(target, Path) else target.settings.db_path  # type: ignore[attr-defined]
        conn = sqlite3.connect(path)
        try:
            return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            conn.close()

    return _count
