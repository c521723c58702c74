"""The closing sum in RUB at the Bank of Russia's rate of the closing day,
against a fake of the Bank's service on loopback (``cbr``): proposed from
budget_usd, cached per day, stored on the deal with its date, and an
offline closing that asks for the amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.services.test_gates import EXPECTED, values_for
from tui_crm.domain.errors import GateRefused
from tui_crm.services.bulk import change_stage
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.rates import closing_proposal, plan_closing, rate_for

TODAY = date(2026, 11, 26)  # the test clock's day (conftest.START)


@pytest.fixture
def online(crm, cbr):
    crm.settings.rates_url = cbr.url
    cbr.rates[TODAY] = Decimal("92.5058")
    return cbr


def at_contract(crm, name: str = "Почти выиграли", usd: str = "20000"):
    deal = capture_lead(crm, LeadInput(name=name))
    values = values_for(EXPECTED[("sales20", "contract")])
    values["budget_usd"] = usd
    move_deal(crm, deal.id, "contract", set_values=values)
    return deal


def test_the_won_form_proposes_budget_usd_at_the_days_rate(crm, online):
    deal = at_contract(crm)
    proposal = closing_proposal(crm, deal.id)
    assert proposal.field == "closing_rub"
    assert proposal.amount == Decimal("1850116.00")
    assert "92.5058" in proposal.explain() and "26.11.2026" in proposal.explain()
    assert online.requests == ["26/11/2026"]


def test_the_rate_is_asked_once_a_day_then_cached(crm, online, open_store):
    rate_for(crm)
    online.down = True
    again = open_store()
    assert rate_for(again).rate == Decimal("92.5058")  # from the database
    assert online.requests == ["26/11/2026"]


def test_a_weekend_closing_uses_the_rate_set_for_that_day(crm, online, clock):
    online.rates[date(2026, 11, 28)] = Decimal("93.1000")  # set on Friday for Saturday
    clock.advance(days=3)  # Sunday 29.11
    rate = rate_for(crm)
    assert (rate.rate, rate.rate_date) == (Decimal("93.1000"), date(2026, 11, 28))


def test_winning_stores_the_rate_and_its_date_on_the_deal(crm, online):
    deal = at_contract(crm)
    proposal = closing_proposal(crm, deal.id)
    move_deal(crm, deal.id, "won", set_values={"closing_rub": "1 850 000"})  # edited by the user
    won = get_deal(crm, deal.id)
    assert won.custom["closing_rub"] == "1850000.00"
    assert (won.closing_rate, won.closing_rate_date) == (Decimal("92.5058"), TODAY)
    assert proposal.amount == Decimal("1850116.00")


def test_offline_the_form_asks_for_the_amount(crm, cbr):
    crm.settings.rates_url = cbr.url
    cbr.down = True
    deal = at_contract(crm)
    proposal = closing_proposal(crm, deal.id)
    assert proposal.amount is None
    assert proposal.explain().startswith("No rate: enter the amount")
    assert "503" in proposal.explain()
    move_deal(crm, deal.id, "won", set_values={"closing_rub": "1 800 000"})
    won = get_deal(crm, deal.id)
    assert (won.stage_key, won.closing_rate) == ("won", None)


def test_unreachable_service_is_no_rate_too(crm):
    deal = at_contract(crm)  # CRM_RATES_URL: a closed loopback port (tests/conftest.py)
    assert "cannot reach" in (closing_proposal(crm, deal.id).problem or "")


def test_the_cli_plan_fills_the_sum_only_when_not_given(crm, online):
    deal = at_contract(crm)
    plan = plan_closing(crm, deal.id, "won", {}, None)
    assert plan.values == {"closing_rub": "1850116.00"}
    typed = plan_closing(crm, deal.id, "Успешно", {"closing_rub": "1 000 000"}, None)
    assert typed.values == {"closing_rub": "1 000 000"} and typed.proposal is None
    elsewhere = plan_closing(crm, deal.id, "lost", {"loss_reason": "Дорого"}, None)
    assert elsewhere.values == {"loss_reason": "Дорого"}


def test_mass_win_computes_each_deals_sum(crm, online):
    a = at_contract(crm, "Альфа", "10000")
    b = at_contract(crm, "Бета", "1000")
    report = change_stage(crm, "won", ids=[a.id, b.id])
    assert report.changed == 2
    assert get_deal(crm, a.id).custom["closing_rub"] == "925058.00"
    assert get_deal(crm, b.id).custom["closing_rub"] == "92505.80"
    assert get_deal(crm, b.id).closing_rate_date == TODAY


def test_mass_win_offline_refuses_per_deal_naming_the_sum(crm):
    deal = at_contract(crm)
    report = change_stage(crm, "won", ids=[deal.id])
    (outcome,) = report.outcomes
    assert not outcome.moved and outcome.missing == ["Сумма в рублях по курсу закрытия"]
    with pytest.raises(GateRefused):
        move_deal(crm, deal.id, "won")
