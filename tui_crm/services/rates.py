"""The closing sum in RUB at the Bank of Russia's rate of the closing day.

The manual: a won Global deal records its sum in roubles "по текущему
курсу на момент закрытия". So closing a deal proposes ``budget_usd`` x the
official USD rate of that (local) day, read from the Bank's daily XML
(``Settings.rates_url``, ``CRM_RATES_URL``; tests serve a fake on
loopback). Each rate is fetched once and cached in the database
(``exchange_rate``), so closing works offline once the day's rate has been
seen; without it the user is asked for the amount.

What each front end does with it:

- the TUI's Won form (``widgets.gate_form``) proposes the amount, editable,
  or says "no rate: enter the amount";
- ``crm move DEAL won`` without ``--set closing_rub=…`` uses the proposal
  when there is one and says so; without a rate the gate refuses (exit 6)
  naming the field and why there is no rate;
- ``crm bulk move … won`` does the same per deal.

A deal entering a won stage keeps the day's rate and its date
(``closing_rate``, ``closing_rate_date``) whenever the rate is known,
whoever typed the amount.

The network is never used inside a write transaction: callers fetch first
(:func:`rate_for`), the move then reads the cache (:func:`cached_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from tui_crm.domain.money import format_money
from tui_crm.domain.rates import Rate, RateUnavailable, closing_sum, parse_daily, query_date
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.deal_values import ParsedValue, canonical_key, from_minor, gate_values, parse_deal_values
from tui_crm.storage.models import Deal, ExchangeRate, Pipeline, Stage
from tui_crm.storage.unit_of_work import UnitOfWork

CURRENCY = "USD"
TIMEOUT = 5.0  # seconds: an offline laptop must get its "enter the amount" quickly
MAX_BYTES = 1_000_000  # the daily file is ~10 kB


def cached_rate(session: Session, day: date, currency: str = CURRENCY) -> Rate | None:
    row = session.get(ExchangeRate, (currency, day))
    return Rate(row.currency, Decimal(row.rate), row.rate_date) if row else None


def _fetch(crm: Crm, day: date, currency: str) -> Rate:
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{crm.settings.rates_url}?date_req={query_date(day)}"
    where = urllib.parse.urlsplit(crm.settings.rates_url).netloc or crm.settings.rates_url
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - http(s) URL from settings
            data = answer.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise RateUnavailable(f"{where} answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RateUnavailable(f"cannot reach {where} ({reason})") from None
    if len(data) > MAX_BYTES:
        raise RateUnavailable(f"{where} answered more than {MAX_BYTES} bytes; not a daily rate file")
    return parse_daily(data, currency)


def rate_for(crm: Crm, day: date | None = None, currency: str = CURRENCY) -> Rate:
    """The official rate for ``day`` (default: today, local): the cache,
    else the Bank's service (then cached). Raises RateUnavailable saying why."""
    day = day or crm.now().date()
    with crm.read() as session:
        known = cached_rate(session, day, currency)
    if known is not None:
        return known
    rate = _fetch(crm, day, currency)
    with crm.uow() as work:  # a cache row, not a record: no change log, never synced
        work.session.merge(ExchangeRate(currency=currency, day=day, rate=str(rate.rate), rate_date=rate.rate_date))
    return rate


@dataclass
class ClosingProposal:
    """What the Won form proposes for the closing sum field, or why it cannot."""

    field: str  # the RUB field (``[closing] sum_field``)
    label: str
    amount: Decimal | None = None
    budget_usd: Decimal | None = None
    rate: Rate | None = None
    problem: str | None = None  # why there is no amount: the user enters it

    def explain(self) -> str:
        """One line for the form or the CLI."""
        if self.amount is not None and self.rate is not None and self.budget_usd is not None:
            return (
                f"{format_money(self.budget_usd, 'USD')} × {self.rate.rate} ₽ (Bank of Russia, "
                f"{self.rate.rate_date:%d.%m.%Y}) = {format_money(self.amount, 'RUB')}"
            )
        return f"No rate: enter the amount ({self.problem})" if self.problem else "Enter the amount"


def _proposal(crm: Crm, budget_usd: Decimal | None, rate: Rate | None, problem: str | None) -> ClosingProposal:
    key = crm.pipelines.closing_sum_field or ""
    proposal = ClosingProposal(key, crm.pipelines.deal_field(key).label if key else "", budget_usd=budget_usd, rate=rate)
    if budget_usd is None:
        proposal.problem = "the deal has no Бюджет ($) to convert"
    elif rate is None:
        proposal.problem = problem
    else:
        proposal.amount = closing_sum(budget_usd, rate.rate)
    return proposal


def closing_proposal(crm: Crm, deal_id: str, *, fetch: bool = True) -> ClosingProposal:
    """The closing sum for a deal closing today: its budget_usd at today's rate."""
    from tui_crm.services.records import resolve

    with crm.read() as session:
        budget = from_minor(resolve(session, Deal, deal_id).budget_usd)
    problem: str | None = None
    rate: Rate | None = None
    try:
        if fetch:
            rate = rate_for(crm)
        else:
            with crm.read() as session:
                rate = cached_rate(session, crm.now().date())
            problem = None if rate else f"no rate for {crm.now():%d.%m.%Y} yet"
    except RateUnavailable as exc:
        problem = f"no rate for {crm.now():%d.%m.%Y}: {exc}"
    return _proposal(crm, budget, rate, problem)


def _needs_closing_sum(crm: Crm, pipeline_key: str, stage: Stage) -> bool:
    key = crm.pipelines.closing_sum_field
    return bool(key) and stage.kind == "won" and key in crm.pipelines.pipeline(pipeline_key).required_fields(stage.key)


def is_won_target(crm: Crm, stage_ref: str) -> bool:
    """Whether ``stage_ref`` names a won stage whose gate needs the closing sum
    in some pipeline (only then is the rate worth fetching)."""
    wanted = fold(stage_ref)
    key = crm.pipelines.closing_sum_field
    return bool(key) and any(
        s.kind == "won"
        and (s.key == stage_ref or fold(s.name) == wanted or (wanted and fold(s.name).startswith(wanted)))
        and key in p.required_fields(s.key)
        for p in crm.pipelines.pipelines
        for s in p.stages
    )


def prefetch(crm: Crm, stage_ref: str) -> str | None:
    """Before a move into a won stage: fetch today's rate into the cache.
    Returns why there is none (None when it is there or not needed)."""
    if not is_won_target(crm, stage_ref):
        return None
    try:
        rate_for(crm)
    except RateUnavailable as exc:
        return f"no rate for {crm.now():%d.%m.%Y}: {exc}"
    return None


def closing_value(
    crm: Crm, session: Session, deal: Deal, pipeline_key: str, stage: Stage, given: list[ParsedValue]
) -> ParsedValue | None:
    """Inside a move's transaction: the closing sum from the cached rate,
    when the stage's gate needs it and neither the deal nor ``given`` has it."""
    if not _needs_closing_sum(crm, pipeline_key, stage):
        return None
    key = crm.pipelines.closing_sum_field
    assert key is not None
    values = gate_values(session, deal)
    values.update({p.key: p.value for p in given})
    if values.get(key) not in (None, "") or values.get("budget_usd") in (None, ""):
        return None
    rate = cached_rate(session, _today(crm))
    if rate is None:
        return None
    usd = values["budget_usd"]
    budget = usd if isinstance(usd, Decimal) else from_minor(int(usd))
    assert budget is not None
    return ParsedValue(key, str(closing_sum(budget, rate.rate)))


def _today(crm: Crm) -> date:
    return crm.now().date()


def stamp_closing_rate(crm: Crm, work: UnitOfWork, deal: Deal) -> None:
    """A deal entering a won stage keeps the day's official rate and its date (when known)."""
    rate = cached_rate(work.session, _today(crm))
    if rate is not None:
        work.update(deal, closing_rate=str(rate.rate), closing_rate_date=rate.rate_date)


@dataclass
class ClosingPlan:
    """What ``crm move`` adds to its ``--set`` values for a won stage."""

    values: dict[str, str]
    proposal: ClosingProposal | None = None  # set when the closing sum was computed here


def plan_closing(crm: Crm, deal_ref: str, stage_ref: str, set_values: dict[str, str], pipeline_ref: str | None) -> ClosingPlan:
    """For ``crm move DEAL won``: the closing sum from today's rate when the
    gate needs it and ``--set`` does not give it (the rate is fetched here,
    before the move's transaction). Without a rate the values are returned
    as they are, and the gate names the field."""
    from tui_crm.services.pipelines import find_pipeline, find_stage
    from tui_crm.services.records import resolve

    plan = ClosingPlan(dict(set_values))
    key = crm.pipelines.closing_sum_field
    if not key or not is_won_target(crm, stage_ref):
        return plan
    with crm.read() as session:
        deal = resolve(session, Deal, deal_ref)
        pipeline_row = session.get(Pipeline, deal.pipeline_id)
        assert pipeline_row is not None
        pipeline = find_pipeline(crm, pipeline_ref or pipeline_row.key)
        stage = session.get(Stage, find_stage(pipeline, stage_ref).id)
        assert stage is not None
        if not _needs_closing_sum(crm, pipeline.key, stage):
            return plan
        given = {canonical_key(crm, k): v for k, v in set_values.items()}
        values = gate_values(session, deal)
        budget = from_minor(deal.budget_usd)
    if "budget_usd" in given:
        parsed = parse_deal_values(crm, {"budget_usd": given["budget_usd"]})
        budget = parsed[0].value
    problem = prefetch(crm, stage_ref)
    if key in given or values.get(key) not in (None, ""):
        return plan  # typed or already there; the rate is still stamped by the move
    with crm.read() as session:
        rate = cached_rate(session, _today(crm))
    proposal = _proposal(crm, budget, rate, problem)
    if proposal.amount is not None:
        plan.values[key] = str(proposal.amount)
    plan.proposal = proposal
    return plan
