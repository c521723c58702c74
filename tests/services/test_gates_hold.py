"""Gates that hold: a field a stage's gate requires cannot be emptied while
the deal is in that stage or later; loss reasons come from the pipelines
file's list; a mass close asks the reason once for all deals.

Real SQLite store per test (``crm`` fixture); "nothing saved" is checked on
the change log.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.services.test_gates import EXPECTED, values_for
from tui_crm.domain.errors import GateHeld, GateRefused, ValidationError
from tui_crm.services.bulk import change_stage
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, get_deal, move_deal


def won_deal(crm, name: str = "Выиграли"):
    deal = capture_lead(crm, LeadInput(name=name))
    move_deal(crm, deal.id, "won", set_values=values_for(EXPECTED[("sales20", "won")]))
    return get_deal(crm, deal.id)


def test_emptying_budget_usd_on_a_won_deal_is_refused_and_saves_nothing(crm, count_rows):
    deal = won_deal(crm)
    before = count_rows(crm, "change_log", "custom_value")
    with pytest.raises(GateHeld) as held:
        edit_deal(crm, deal.id, {"budget_usd": ""})
    assert isinstance(held.value, GateRefused)  # the CLI's exit 6
    assert [m.key for m in held.value.missing] == ["budget_usd"]
    assert "Бюджет ($)" in str(held.value) and "Успешно реализовано" in str(held.value)
    assert get_deal(crm, deal.id).budget_usd is not None
    assert count_rows(crm, "change_log", "custom_value") == before


def test_emptying_a_custom_gate_field_of_an_earlier_stage_is_refused(crm):
    deal = won_deal(crm)
    with pytest.raises(GateHeld) as held:
        edit_deal(crm, deal.id, {"segment": "", "city": "Самара"})
    assert [m.key for m in held.value.missing] == ["segment"]
    detail = get_deal(crm, deal.id)
    assert (detail.custom["segment"], detail.custom["city"]) == ("B", "Казань")


def test_changing_a_required_field_to_another_value_is_fine(crm):
    deal = won_deal(crm)
    edit_deal(crm, deal.id, {"budget_usd": "25000", "segment": "A"})
    assert get_deal(crm, deal.id).custom["segment"] == "A"


def test_a_lead_may_empty_anything(crm):
    deal = capture_lead(crm, LeadInput(name="Лид", budget="100 000"))
    edit_deal(crm, deal.id, {"budget_rub": ""})
    assert get_deal(crm, deal.id).budget_rub is None


def test_a_lost_deal_keeps_only_what_losts_gate_requires(crm):
    deal = won_deal(crm, "Сначала выиграли")
    move_deal(crm, deal.id, "lost", set_values={"loss_reason": "Дорого"})
    edit_deal(crm, deal.id, {"budget_usd": "", "segment": ""})  # Lost's gate needs neither
    with pytest.raises(GateHeld) as held:
        edit_deal(crm, deal.id, {"loss_reason": ""})
    assert [m.key for m in held.value.missing] == ["loss_reason"]


def test_dropping_the_company_on_a_rus_contract_deal_loses_its_inn_and_is_refused(crm):
    deal = capture_lead(crm, LeadInput(name="РУС", pipeline="sales_rus"))
    move_deal(crm, deal.id, "contract", set_values=values_for(EXPECTED[("sales_rus", "contract")]))
    with pytest.raises(GateHeld) as held:
        edit_deal(crm, deal.id, {"company": ""})
    assert [m.key for m in held.value.missing] == ["company.inn"]


# ---- loss reasons: a list from the pipelines file ---------------------------------------


def test_loss_reason_must_be_one_of_the_list(crm, count_rows):
    deal = capture_lead(crm, LeadInput(name="Причина"))
    before = count_rows(crm, "change_log")
    with pytest.raises(ValidationError) as bad:
        move_deal(crm, deal.id, "lost", set_values={"loss_reason": "потому что"})
    assert "Дорого" in str(bad.value) and "Другое" in str(bad.value)
    assert count_rows(crm, "change_log") == before


def test_loss_reason_matches_any_case_and_a_unique_prefix(crm):
    deal = capture_lead(crm, LeadInput(name="Префикс"))
    move_deal(crm, deal.id, "lost", set_values={"loss_reason": "выбрали"})
    assert get_deal(crm, deal.id).loss_reason == "Выбрали конкурента"


def test_other_takes_free_text_and_needs_it(crm):
    deal = capture_lead(crm, LeadInput(name="Другое"))
    with pytest.raises(ValidationError, match="say what"):
        move_deal(crm, deal.id, "lost", set_values={"loss_reason": "Другое"})
    move_deal(crm, deal.id, "lost", set_values={"loss_reason": "другое: клиент закрылся"})
    assert get_deal(crm, deal.id).loss_reason == "Другое: клиент закрылся"


def test_the_gate_names_the_reasons_and_the_free_text_option(crm):
    deal = capture_lead(crm, LeadInput(name="Опции"))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "lost")
    (missing,) = refused.value.missing
    assert missing.type == "select" and "Дорого" in missing.options and missing.other == "Другое"


# ---- mass close ---------------------------------------------------------------------------


def test_mass_close_as_lost_writes_the_reason_once_for_all(crm):
    ids = [capture_lead(crm, LeadInput(name=f"Массово {i}")).id for i in range(3)]
    report = change_stage(crm, "lost", ids=ids, set_values={"loss_reason": "Нет бюджета"})
    assert report.changed == 3
    reasons = Counter(get_deal(crm, i).loss_reason for i in ids)
    assert reasons == {"Нет бюджета": 3}


def test_a_bad_reason_refuses_the_whole_mass_close_before_anything(crm, count_rows):
    ids = [capture_lead(crm, LeadInput(name=f"Плохо {i}")).id for i in range(2)]
    before = count_rows(crm, "change_log")
    with pytest.raises(ValidationError):
        change_stage(crm, "lost", ids=ids, set_values={"loss_reason": "не знаю"})
    assert count_rows(crm, "change_log") == before


def test_mass_move_with_values_refuses_per_deal_and_writes_nothing_on_the_refused(crm):
    ready = capture_lead(crm, LeadInput(name="Готов", budget="1 000 000", budget_usd="12000"))
    bare = capture_lead(crm, LeadInput(name="Пустой"))
    values = {"segment": "B", "territory": "РФ", "city": "Казань"}
    report = change_stage(crm, "qualification", ids=[ready.id, bare.id], set_values=values)
    moved = {o.deal_name: o for o in report.outcomes}
    assert moved["Готов"].moved and not moved["Пустой"].moved
    assert "Бюджет (RUB)" in moved["Пустой"].missing
    untouched = get_deal(crm, bare.id)
    assert untouched.stage_key == "lead" and "segment" not in untouched.custom
