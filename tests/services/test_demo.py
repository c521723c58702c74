"""The demo never mixes with the user's own data."""

from __future__ import annotations

from tui_crm.services.deal_queries import count_deals
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.demo import has_deals, store_for_app


def test_an_empty_store_opens_a_seeded_demo_in_its_own_file(open_store, tmp_path):
    own = open_store(db=tmp_path / "own.db")
    shown, notice = store_for_app(own)
    assert notice is not None and "demo" in notice.lower()
    assert shown.settings.db_path == tmp_path / "demo.sqlite3"
    assert count_deals(shown) > 20
    mine = open_store(db=tmp_path / "own.db")
    assert not has_deals(mine), "the demo must not write into the user's database"


def test_a_store_with_deals_is_opened_as_is(open_store, tmp_path):
    own = open_store(db=tmp_path / "own.db")
    capture_lead(own, LeadInput(name="Настоящий лид"))
    shown, notice = store_for_app(own)
    assert notice is None and shown is own
    assert not (tmp_path / "demo.sqlite3").exists()
