"""Stage gates of the three default pipelines, everywhere a stage changes:
move, bulk move, copy, and capture straight into a later stage.

The expectations are written out from the TOML's rule, not computed by the
code under test: entering a stage needs its own ``requires`` plus every
earlier working stage's; a lost stage needs only its own (Причина отказа).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tui_crm.domain.errors import GateRefused, ValidationError
from tui_crm.services.bulk import change_stage
from tui_crm.services.deal_copy import CopyOptions, copy_deal
from tui_crm.services.deal_queries import DealFilter
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.tasks import tasks_of

INN = "7707083893"
QUAL_20 = ["budget_rub", "budget_usd", "segment", "territory", "city"]
QUAL_RUS = ["budget_rub", "segment", "territory", "city"]
ESTIMATE = ["scope", "work_model", "project_folder"]
LOSS = ["loss_reason"]

EXPECTED: dict[tuple[str, str], list[str]] = {
    ("sales20", "unsorted"): [],
    ("sales20", "lead"): [],
    ("sales20", "qualification"): QUAL_20,
    ("sales20", "estimate"): QUAL_20 + ESTIMATE,
    ("sales20", "proposal"): QUAL_20 + ESTIMATE + ["estimate_link"],
    ("sales20", "negotiation"): QUAL_20 + ESTIMATE + ["estimate_link"],
    ("sales20", "contract"): QUAL_20 + ESTIMATE + ["estimate_link"],
    ("sales20", "won"): QUAL_20 + ESTIMATE + ["estimate_link", "closing_rub"],
    ("sales20", "lost"): LOSS,
    ("tenders", "unsorted"): [],
    ("tenders", "new_tender"): [],
    ("tenders", "analysis"): [],
    ("tenders", "application"): ["budget_rub", "project_folder"],
    ("tenders", "submitted"): ["budget_rub", "project_folder", "estimate_link"],
    ("tenders", "bidding"): ["budget_rub", "project_folder", "estimate_link"],
    ("tenders", "won"): ["budget_rub", "project_folder", "estimate_link"],
    ("tenders", "lost"): LOSS,
    ("sales_rus", "unsorted"): [],
    ("sales_rus", "lead"): [],
    ("sales_rus", "qualification"): QUAL_RUS,
    ("sales_rus", "estimate"): QUAL_RUS + ESTIMATE,
    ("sales_rus", "proposal"): QUAL_RUS + ESTIMATE + ["estimate_link"],
    ("sales_rus", "negotiation"): QUAL_RUS + ESTIMATE + ["estimate_link", "decision_makers"],
    ("sales_rus", "contract"): QUAL_RUS + ESTIMATE + ["estimate_link", "decision_makers", "company.inn"],
    ("sales_rus", "won"): QUAL_RUS + ESTIMATE + ["estimate_link", "decision_makers", "company.inn"],
    ("sales_rus", "lost"): LOSS,
}

LABELS = {
    "budget_rub": "Бюджет (RUB)",
    "budget_usd": "Бюджет ($)",
    "segment": "Сегмент",
    "territory": "Территория",
    "city": "Город",
    "scope": "Состав работ",
    "work_model": "Модель работы",
    "project_folder": "Ссылка на папку проекта",
    "estimate_link": "Ссылка на оценку",
    "decision_makers": "ЛПР/ЛВР/ГПР",
    "closing_rub": "Сумма в рублях по курсу закрытия",
    "loss_reason": "Причина отказа",
    "company.inn": "ИНН компании",
}

VALUES = {
    "budget_rub": "1 500 000",
    "budget_usd": "20000",
    "segment": "B",
    "territory": "РФ",
    "city": "Казань",
    "scope": "Мобильное приложение",
    "work_model": "Fixed price",
    "project_folder": "https://disk.example.com/elka",
    "estimate_link": "https://disk.example.com/elka/estimate",
    "decision_makers": "ЛПР: Ольга",
    "closing_rub": "1 480 000",
    "loss_reason": "Выбрали конкурента",
    "company.inn": INN,
}


def values_for(keys: list[str]) -> dict[str, str]:
    """``--set`` values that satisfy ``keys`` (a company first when the INN is needed)."""
    values = {"company": "Ёлка"} if "company.inn" in keys else {}
    values.update({k: VALUES[k] for k in keys})
    return values


def bare_deal(crm, pipeline: str, name: str = "Голая сделка"):
    """A deal with no fields at all, waiting in Unsorted (which has no gate)."""
    return capture_lead(crm, LeadInput(name=name, pipeline=pipeline, stage="unsorted"))


def test_every_shipped_stage_has_an_expectation(crm):
    shipped = {(p.key, s.key) for p in crm.pipelines.pipelines for s in p.stages}
    assert shipped == set(EXPECTED)


@pytest.mark.parametrize(("pipeline", "stage"), sorted(EXPECTED))
def test_gate_refuses_exactly_the_missing_fields_then_fill_and_move(crm, count_rows, pipeline, stage):
    deal = bare_deal(crm, pipeline)
    if stage == "unsorted":
        assert deal.stage_key == "unsorted"
        return
    expected = EXPECTED[(pipeline, stage)]
    if expected:
        before = count_rows(crm, "change_log")
        with pytest.raises(GateRefused) as refused:
            move_deal(crm, deal.id, stage)
        assert [m.key for m in refused.value.missing] == expected
        assert [m.label for m in refused.value.missing] == [LABELS[k] for k in expected]
        assert all(label in str(refused.value) for label in (LABELS[k] for k in expected))
        assert get_deal(crm, deal.id).stage_key == "unsorted"
        assert count_rows(crm, "change_log") == before
    outcome = move_deal(crm, deal.id, stage, set_values=values_for(expected))
    assert outcome.moved
    assert get_deal(crm, deal.id).stage_key == stage


def test_select_fields_list_their_options_in_the_refusal(crm):
    deal = capture_lead(crm, LeadInput(name="Опции"))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "Квалификация")
    options = {m.key: m.options for m in refused.value.missing}
    assert options["segment"] == ["A", "B", "C", "D"]
    assert options["territory"] == ["РФ", "Запад"]


def test_won_in_sales20_needs_the_closing_rate_rub_sum(crm):
    deal = capture_lead(crm, LeadInput(name="Почти выиграли"))
    move_deal(crm, deal.id, "contract", set_values=values_for(EXPECTED[("sales20", "contract")]))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "won")
    assert [m.key for m in refused.value.missing] == ["closing_rub"]
    move_deal(crm, deal.id, "won", set_values={"closing_rub": "1 480 000"})
    detail = get_deal(crm, deal.id)
    assert detail.stage_key == "won" and detail.closed_at is not None
    assert Decimal(detail.custom["closing_rub"]) == Decimal("1480000")


def test_lost_needs_only_the_loss_reason_from_any_stage(crm):
    deal = capture_lead(crm, LeadInput(name="Потеряли"))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "lost")
    assert [m.key for m in refused.value.missing] == ["loss_reason"]
    move_deal(crm, deal.id, "lost", set_values={"reason": "Дорого"})
    detail = get_deal(crm, deal.id)
    assert (detail.stage_key, detail.loss_reason) == ("lost", "Дорого")


class TestRusContractNeedsCompanyInn:
    def _at_negotiation(self, crm, company: str | None = None):
        deal = capture_lead(crm, LeadInput(name="Договор RUS", pipeline="sales_rus", company=company))
        move_deal(crm, deal.id, "negotiation", set_values=values_for(EXPECTED[("sales_rus", "negotiation")]))
        return deal

    def test_company_without_inn_is_refused_naming_the_inn(self, crm):
        deal = self._at_negotiation(crm, company="Ромашка")
        with pytest.raises(GateRefused) as refused:
            move_deal(crm, deal.id, "Договор")
        assert [(m.key, m.label) for m in refused.value.missing] == [("company.inn", "ИНН компании")]

    def test_setting_the_inn_on_a_deal_without_company_is_a_clear_error(self, crm, count_rows):
        deal = self._at_negotiation(crm)
        before = count_rows(crm, "change_log", "company")
        with pytest.raises(ValidationError, match="no company.*company="):
            move_deal(crm, deal.id, "Договор", set_values={"inn": INN})
        assert count_rows(crm, "change_log", "company") == before
        assert get_deal(crm, deal.id).stage_key == "negotiation"

    def test_inn_goes_onto_the_deals_company(self, crm):
        deal = self._at_negotiation(crm, company="Ромашка")
        move_deal(crm, deal.id, "Договор", set_values={"inn": INN})
        from tui_crm.services.companies import get_company

        assert get_company(crm, "Ромашка").inn == INN
        assert get_deal(crm, deal.id).stage_key == "contract"
        from tui_crm.services.search import search

        assert [(r.entity_type, r.name) for r in search(crm, INN)] == [("company", "Ромашка")]

    def test_company_and_inn_in_one_move_in_any_order(self, crm):
        deal = self._at_negotiation(crm)
        move_deal(crm, deal.id, "Договор", set_values={"inn": INN, "company": "Ромашка"})
        detail = get_deal(crm, deal.id)
        assert detail.stage_key == "contract" and detail.company is not None and detail.company.name == "Ромашка"

    def test_a_bad_inn_is_invalid_not_missing(self, crm):
        deal = self._at_negotiation(crm, company="Ромашка")
        with pytest.raises(ValidationError):
            move_deal(crm, deal.id, "Договор", set_values={"inn": "7707083890"})


def test_a_refused_move_saves_none_of_its_set_values(crm, count_rows):
    deal = capture_lead(crm, LeadInput(name="Ничего не сохранять", budget="100 000"))
    before = count_rows(crm, "change_log", "custom_value", "task")
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "Квалификация", set_values={"budget_usd": "2000", "segment": "A", "territory": "РФ"})
    assert [m.key for m in refused.value.missing] == ["city"]
    after = get_deal(crm, deal.id)
    assert (after.stage_key, after.budget_usd, after.custom, after.revision) == ("lead", None, {}, deal.revision)
    assert count_rows(crm, "change_log", "custom_value", "task") == before


def test_a_move_into_another_pipeline_passes_that_pipelines_gate(crm):
    deal = capture_lead(crm, LeadInput(name="В тендеры"))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, "Подготовка заявки", pipeline_ref="Тендеры")
    assert [m.key for m in refused.value.missing] == ["budget_rub", "project_folder"]
    move_deal(crm, deal.id, "Подготовка заявки", pipeline_ref="Тендеры", set_values=values_for(["budget_rub", "project_folder"]))
    detail = get_deal(crm, deal.id)
    assert (detail.pipeline_key, detail.stage_key) == ("tenders", "application")


# -- gates hold in bulk, copy and capture ------------------------------------------------


def test_bulk_stage_change_reports_per_deal(crm):
    ready = capture_lead(crm, LeadInput(name="Готова", budget="1 000 000", values=values_for(QUAL_20[1:])))
    bare = capture_lead(crm, LeadInput(name="Пустая"))
    half = capture_lead(crm, LeadInput(name="Половина", budget="500 000", budget_usd="5000"))
    report = change_stage(crm, "Квалификация", ids=[ready.id, bare.id, half.id])
    assert (report.selected, report.changed) == (3, 1)
    by_id = {o.deal_id: o for o in report.outcomes}
    assert by_id[ready.id].moved and by_id[ready.id].missing == []
    assert not by_id[bare.id].moved and by_id[bare.id].missing == [LABELS[k] for k in QUAL_20]
    assert not by_id[half.id].moved and by_id[half.id].missing == ["Сегмент", "Территория", "Город"]
    assert [get_deal(crm, d.id).stage_key for d in (ready, bare, half)] == ["qualification", "lead", "lead"]


def test_bulk_stage_change_on_a_filter(crm):
    ready = capture_lead(crm, LeadInput(name="Готова", budget="1 000 000", values=values_for(QUAL_20[1:]), tags=["весна"]))
    bare = capture_lead(crm, LeadInput(name="Пустая", tags=["весна"]))
    other = capture_lead(crm, LeadInput(name="Не в выборке", budget="1 000 000", values=values_for(QUAL_20[1:])))
    report = change_stage(crm, "qualification", flt=DealFilter(tag="Весна"))
    assert {o.deal_id: o.moved for o in report.outcomes} == {ready.id: True, bare.id: False}
    assert get_deal(crm, other.id).stage_key == "lead"


def test_copy_into_a_gated_stage_is_refused_and_creates_nothing(crm, count_rows):
    source = capture_lead(crm, LeadInput(name="Счёт за октябрь"))
    before = count_rows(crm, "deal", "change_log", "task")
    with pytest.raises(GateRefused) as refused:
        copy_deal(crm, source.id, CopyOptions(stage="Квалификация"))
    assert [m.key for m in refused.value.missing] == QUAL_20
    assert count_rows(crm, "deal", "change_log", "task") == before


def test_copy_carries_the_gate_fields_it_is_allowed_to(crm):
    source = capture_lead(crm, LeadInput(name="Счёт", budget="1 000 000", values=values_for(QUAL_20[1:])))
    copied = copy_deal(crm, source.id, CopyOptions(stage="Квалификация"))
    assert copied.stage_key == "qualification"
    with pytest.raises(GateRefused):
        copy_deal(crm, source.id, CopyOptions(stage="Квалификация", fields=["budget_rub", "budget_usd"]))


def test_capture_beyond_the_lead_stage_goes_through_the_gate(crm, count_rows):
    tables = ("deal", "contact", "company", "task", "note", "change_log")
    before = count_rows(crm, *tables)
    with pytest.raises(GateRefused) as refused:
        capture_lead(
            crm,
            LeadInput(
                name="Сразу в квалификацию",
                stage="Квалификация",
                email="q@example.com",
                company="Кью",
                budget="1 млн",
                note="Записка",
                task="Позвонить",
            ),
        )
    assert [m.key for m in refused.value.missing] == QUAL_20[1:]
    assert count_rows(crm, *tables) == before

    deal = capture_lead(
        crm, LeadInput(name="Сразу в квалификацию", stage="Квалификация", budget="1 млн", values=values_for(QUAL_20[1:]))
    )
    assert deal.stage_key == "qualification"
    assert [t.text for t in tasks_of(crm, deal.id)] == ["Подготовить оценку"]
