"""Remote fields tui-crm keeps unmapped (``amo:<field_id>``): select and
multiselect values a teammate edits in amoCRM must flow in without false
conflicts, and a remote delete of a record nobody touched here is simply
applied (issue 12)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import cf_value
from tui_crm.services import sync as sync_service
from tui_crm.services.deals import edit_deal, get_deal
from tui_crm.storage.models import Company, Deal
from tui_crm.sync.local import LocalStore


def _enum(fake: FakeAmo, etype: str, field_id: int, value: str) -> int:
    return next(e["id"] for e in fake.state.custom_fields[etype][field_id]["enums"] if e["value"] == value)


def _setup(fake: FakeAmo) -> dict[str, Any]:
    source = fake.state.add_custom_field("leads", "Источник", "select", enums=["Сайт", "Звонок", "Выставка"])
    products = fake.state.add_custom_field("leads", "Продукты", "multiselect", enums=["CRM", "ERP", "BI"])
    segment = fake.state.add_custom_field("companies", "Сегмент клиента", "select", enums=["SMB", "Enterprise"])
    company = fake.create_entity(
        "companies",
        {
            "name": "Магнит",
            "custom_fields_values": [{"field_id": segment, "values": [{"enum_id": _enum(fake, "companies", segment, "SMB")}]}],
        },
    )
    lead = fake.create_entity(
        "leads",
        {
            "name": "Внедрение",
            "custom_fields_values": [
                {"field_id": source, "values": [{"enum_id": _enum(fake, "leads", source, "Сайт")}]},
                {"field_id": products, "values": [{"enum_id": _enum(fake, "leads", products, "CRM")}]},
            ],
            "_embedded": {"companies": [{"id": company["id"]}]},
        },
    )
    return {"source": source, "products": products, "segment": segment, "lead": lead, "company": company}


def _remote_source(fake: FakeAmo, ids: dict[str, Any], label: str) -> None:
    """A teammate sets the lead's «Источник» in amoCRM, a little later."""
    fake.clock.advance(10)
    values = [{"enum_id": _enum(fake, "leads", ids["source"], label)}]
    fake.update_entity("leads", ids["lead"]["id"], {"custom_fields_values": [{"field_id": ids["source"], "values": values}]})


def _deal(crm: Any) -> Any:
    with crm.read() as session:
        return session.exec(select(Deal).where(Deal.name == "Внедрение")).one()


def _company(crm: Any) -> Any:
    with crm.read() as session:
        return session.exec(select(Company).where(Company.name == "Магнит")).one()


def _labels(value: Any) -> list[str]:
    return [item["value"] for item in value or []]


def test_remote_edits_of_unmapped_select_fields_are_not_conflicts(store: Any, fake: FakeAmo, synced: Any) -> None:
    ids = _setup(fake)
    synced()
    deal = _deal(store)
    fake.clock.advance(10)
    fake.update_entity(
        "leads",
        ids["lead"]["id"],
        {
            "custom_fields_values": [
                {"field_id": ids["source"], "values": [{"enum_id": _enum(fake, "leads", ids["source"], "Звонок")}]},
                {
                    "field_id": ids["products"],
                    "values": [{"enum_id": _enum(fake, "leads", ids["products"], v)} for v in ("ERP", "BI")],
                },
            ]
        },
    )
    fake.update_entity(
        "companies",
        ids["company"]["id"],
        {
            "custom_fields_values": [
                {"field_id": ids["segment"], "values": [{"enum_id": _enum(fake, "companies", ids["segment"], "Enterprise")}]}
            ]
        },
    )
    report = synced()
    assert report.conflicts == 0 and sync_service.list_conflicts(store) == []
    custom = get_deal(store, deal.id).custom
    assert _labels(custom[f"amo:{ids['source']}"]) == ["Звонок"]
    assert _labels(custom[f"amo:{ids['products']}"]) == ["ERP", "BI"]
    with store.read() as session:
        company = LocalStore().read(session, "company", _company(store).id) or {}
    assert _labels(company.get(f"amo:{ids['segment']}")) == ["Enterprise"]
    # and nothing is sent back for them
    writes = [r for r in fake.requests if r.method in ("POST", "PATCH")]
    fake.clock.advance(10)
    assert synced().conflicts == 0
    assert [r for r in fake.requests if r.method in ("POST", "PATCH")] == writes


def test_local_edit_of_another_field_and_remote_edit_of_unmapped_field_converge(store: Any, fake: FakeAmo, synced: Any) -> None:
    ids = _setup(fake)
    synced()
    deal = _deal(store)
    edit_deal(store, deal.id, {"city": "Казань"})
    _remote_source(fake, ids, "Выставка")
    assert synced().conflicts == 0
    remote = fake.state.entities["leads"][ids["lead"]["id"]]
    assert cf_value(fake, "leads", remote, "Источник") == "Выставка" and cf_value(fake, "leads", remote, "Город") == "Казань"
    custom = get_deal(store, deal.id).custom
    assert _labels(custom[f"amo:{ids['source']}"]) == ["Выставка"] and custom["city"] == "Казань"


def test_remote_delete_of_an_untouched_record_is_applied_without_a_notice(store: Any, fake: FakeAmo, synced: Any) -> None:
    ids = _setup(fake)
    synced()
    deal = _deal(store)
    fake.clock.advance(10)
    fake.delete_entity("leads", ids["lead"]["id"])
    synced()
    assert sync_service.list_conflicts(store) == []
    with store.read() as session:
        assert session.get(Deal, deal.id).deleted_at is not None


def test_conflict_on_an_unmapped_field_shows_its_text(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.sync.mapping import display_value

    ids = _setup(fake)
    synced()
    deal = _deal(store)
    custom = get_deal(store, deal.id).custom
    key = f"amo:{ids['source']}"
    chosen = [{"value": "Выставка", "enum_id": _enum(fake, "leads", ids["source"], "Выставка")}]
    _set_custom(store, deal.id, key, chosen)
    _remote_source(fake, ids, "Звонок")
    assert synced().conflicts == 1
    [conflict] = sync_service.list_conflicts(store)
    assert conflict.field == key
    assert (display_value(conflict.base), display_value(conflict.local), display_value(conflict.remote)) == (
        "Сайт",
        "Выставка",
        "Звонок",
    )
    assert custom[key][0]["value"] == "Сайт"


def _set_custom(crm: Any, deal_id: str, key: str, value: Any) -> None:
    """A local edit of an unmapped value through the ordinary write path (a change-log row to push)."""
    with crm.uow() as work:
        LocalStore().apply(work, "deal", deal_id, {key: value}, new=False)
