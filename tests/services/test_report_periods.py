"""Report periods, stage probabilities and the stage history the funnel reads."""

from __future__ import annotations

from datetime import date

import pytest

from tui_crm.domain.errors import ConfigError, ValidationError
from tui_crm.domain.pipelines import parse_pipeline_config
from tui_crm.services.reports.period import named_period, resolve_period

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("this-month", date(2026, 11, 1), date(2026, 11, 30)),
        ("last-month", date(2026, 10, 1), date(2026, 10, 31)),
        ("this-quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("last-quarter", date(2026, 7, 1), date(2026, 9, 30)),
        ("this-year", date(2026, 1, 1), date(2026, 12, 31)),
        ("last-year", date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_named_periods_are_whole_calendar_spans(name, first, last):
    period = named_period(name, TODAY)
    assert (period.start, period.end) == (first, last)


def test_last_quarter_in_january_is_the_previous_years_fourth():
    assert (named_period("last-quarter", date(2027, 1, 15)).start, named_period("last-quarter", date(2027, 1, 15)).end) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
    )


def test_from_and_to_take_both_date_forms_and_default_to_today():
    assert resolve_period(TODAY, None, "01.10.2026", None).end == TODAY
    assert resolve_period(TODAY, None, "2026-10-01", "2026-10-31").start == date(2026, 10, 1)
    assert resolve_period(TODAY).name == "this-month"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("next-month", None, None), "is not a period"),
        ((None, "2026-13-01", None), "is not a date"),
        ((None, "0001-01-01", None), "out of range; use a year from 1900"),
        ((None, None, "9999-12-31"), "out of range"),
        ((None, "2026-11-20", "2026-11-01"), "is before --from"),
        (("this-month", "2026-11-01", None), "not both"),
    ],
)
def test_a_bad_period_says_what_to_type(args, words):
    with pytest.raises(ValidationError, match=words):
        resolve_period(TODAY, *args)


def _config(probability):
    stage = {"key": "lead", "name": "Лид", "kind": "lead", "probability": probability}
    return {
        "pipelines": [
            {
                "key": "p",
                "name": "P",
                "stages": [stage, {"key": "won", "name": "Won", "kind": "won"}, {"key": "lost", "name": "Lost", "kind": "lost"}],
            }
        ]
    }


def test_stage_probability_is_an_optional_whole_percent():
    config = parse_pipeline_config(_config(40))
    assert [s.probability for s in config.pipelines[0].stages] == [40, None, None]
    for bad in (140, -1, "40%", 12.5, True):
        with pytest.raises(ConfigError, match="probability .* whole percent from 0 to 100"):
            parse_pipeline_config(_config(bad))


def test_every_stage_move_lands_in_the_stage_history(crm, clock):
    """The change-log trigger of migration 0016 copies each stage entry, with who and when."""
    from sqlalchemy import text

    from tui_crm.services.deals import LeadInput, capture_lead, move_deal

    deal = capture_lead(crm, LeadInput(name="История", pipeline="tenders", budget="100 000"))
    clock.advance(hours=5)
    move_deal(crm, deal.id, "analysis")
    with crm.read() as session:
        rows = session.execute(
            text(
                "SELECT f.key, t.key FROM stage_event e LEFT JOIN stage f ON f.id = e.from_stage"
                " JOIN stage t ON t.id = e.to_stage WHERE e.deal_id = :d ORDER BY e.seq"
            ),
            {"d": deal.id},
        ).all()
    assert [tuple(r) for r in rows] == [(None, "new_tender"), ("new_tender", "analysis")]
