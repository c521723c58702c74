"""``crm add lead|contact|company|task|note``: capture in one line."""

from __future__ import annotations

from typing import Annotated

import typer

from tui_crm.cli.output import clean, emit_json, say
from tui_crm.cli.state import state

app = typer.Typer(help="Create records.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def parse_pairs(pairs: list[str] | None) -> dict[str, str]:
    """``FIELD=VALUE`` options into a dict; a pair without '=' is refused."""
    from tui_crm.domain.errors import ValidationError

    values: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError("--set", f"{pair!r}: write FIELD=VALUE, e.g. --set segment=A")
        values[key.strip()] = value
    return values


def check_budget_options(budget: str | None, budget_usd: str | None) -> None:
    """Dollars given to --budget (or roubles to --budget-usd): point at the other option."""
    from tui_crm.domain.errors import ValidationError
    from tui_crm.domain.money import detect_currency
    from tui_crm.domain.text import preview

    if budget and detect_currency(budget) == "USD":
        raise ValidationError("--budget", f"«{preview(budget)}» is in dollars; --budget is in RUB, use --budget-usd")
    if budget_usd and detect_currency(budget_usd) == "RUB":
        raise ValidationError("--budget-usd", f"«{preview(budget_usd)}» is in roubles; use --budget for RUB")


@app.command("lead")
def add_lead(
    name: Annotated[str, typer.Argument(help='Deal name, e.g. "Сайт для Магнита".')],
    phone: Annotated[str | None, typer.Option(help="Contact phone, any format.")] = None,
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    contact: Annotated[
        str | None,
        typer.Option(
            help="Contact: the name or id prefix of an existing one (linked when exactly one matches), "
            "or the name of a new one (default: email or phone)."
        ),
    ] = None,
    company: Annotated[str | None, typer.Option(help="Company name or id (created if new).")] = None,
    budget: Annotated[str | None, typer.Option(help='Budget in RUB: 1500000, "1,5 млн", 150k.')] = None,
    budget_usd: Annotated[str | None, typer.Option("--budget-usd", help="Budget in USD.")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Pipeline name or key.")] = None,
    stage: Annotated[str | None, typer.Option(help="Stage (default: the lead stage).")] = None,
    source: Annotated[str | None, typer.Option(help="Source channel (Marketing).")] = None,
    note: Annotated[str | None, typer.Option(help="A note on the deal.")] = None,
    task: Annotated[str | None, typer.Option(help="A task text.")] = None,
    due: Annotated[str | None, typer.Option(help='When: "tomorrow 10:00", +3d, 2026-12-01 15:00, пятница.')] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (repeatable).")] = None,
    responsible: Annotated[str | None, typer.Option(help="Responsible user (default: you).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Capture a lead: a deal with its contact, company, note and task."""
    from tui_crm.services.deals import LeadInput, capture_lead

    check_budget_options(budget, budget_usd)
    deal = capture_lead(
        state.crm(),
        LeadInput(
            name=name,
            phone=phone,
            email=email,
            contact_name=contact,
            company=company,
            budget=budget,
            budget_usd=budget_usd,
            pipeline=pipeline,
            stage=stage,
            source=source,
            note=note,
            task=task,
            due=due,
            tags=tag or [],
            values=parse_pairs(set_),
            responsible=responsible,
        ),
    )
    if json_:
        emit_json(deal)
        return
    say(f"Created deal {deal.id[:8]} «{clean(deal.name)}» in {clean(deal.pipeline)} / {clean(deal.stage)}")
    if deal.contacts:
        main = next((c for c in deal.contacts if c.is_main), deal.contacts[0])
        company = f" at {clean(deal.company.name)}" if deal.company else ""
        say(f"Contact {main.id[:8]} «{clean(main.name)}»{company}")
    for notice in deal.notices:
        say(f"Note: {clean(notice)}")


@app.command("contact")
def add_contact(
    name: Annotated[str, typer.Argument(help="Full name.")],
    phone: Annotated[list[str] | None, typer.Option("--phone", help="Phone (repeatable).")] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="Email (repeatable).")] = None,
    company: Annotated[str | None, typer.Option(help="Company name or id.")] = None,
    position: Annotated[str | None, typer.Option(help="Position.")] = None,
    department: Annotated[str | None, typer.Option(help="Department.")] = None,
    gender: Annotated[str | None, typer.Option(help="male/female (м/ж).")] = None,
    birthday: Annotated[str | None, typer.Option(help="1990-05-17 or 17.05.1990.")] = None,
    telegram: Annotated[str | None, typer.Option(help="Telegram handle.")] = None,
    linkedin: Annotated[str | None, typer.Option(help="LinkedIn URL.")] = None,
    skype: Annotated[str | None, typer.Option(help="Skype name.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
    enrich: Annotated[bool, typer.Option("--enrich", help="If it exists, add these details to it.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Create even if a similar contact exists.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a contact; refuses a likely duplicate unless --enrich or --force."""
    from tui_crm.services.contacts import ContactInput
    from tui_crm.services.contacts import add_contact as add
    from tui_crm.services.parties import OnDuplicate

    messengers = {k: v for k, v in {"telegram": telegram, "linkedin": linkedin, "skype": skype}.items() if v}
    policy = OnDuplicate.ENRICH if enrich else OnDuplicate.CREATE if force else OnDuplicate.ERROR
    detail = add(
        state.crm(),
        ContactInput(
            name=name,
            phones=phone or [],
            emails=email or [],
            company=company,
            position=position,
            department=department,
            gender=gender,
            birthday=birthday,
            messengers=messengers,
            tags=tag or [],
        ),
        policy,
    )
    if json_:
        emit_json(detail)
        return
    missing = f"; to fill: {', '.join(detail.missing_required)}" if detail.missing_required else ""
    say(f"Contact {detail.id[:8]} «{clean(detail.name)}»{missing}")


@app.command("company")
def add_company(
    name: Annotated[str, typer.Argument(help="Brand name (Магнит, not ЗАО «Тандер»).")],
    inn: Annotated[str | None, typer.Option(help="ИНН, 10 or 12 digits.")] = None,
    phone: Annotated[list[str] | None, typer.Option("--phone")] = None,
    email: Annotated[list[str] | None, typer.Option("--email")] = None,
    web: Annotated[str | None, typer.Option(help="Website.")] = None,
    address: Annotated[str | None, typer.Option()] = None,
    type_: Annotated[str | None, typer.Option("--type", help="new client / existing client / partner.")] = None,
    industry: Annotated[str | None, typer.Option()] = None,
    employees: Annotated[str | None, typer.Option()] = None,
    turnover: Annotated[str | None, typer.Option()] = None,
    territory: Annotated[str | None, typer.Option(help="РФ or Запад.")] = None,
    needs: Annotated[str | None, typer.Option(help="Identified needs.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
    enrich: Annotated[bool, typer.Option("--enrich")] = False,
    force: Annotated[bool, typer.Option("--force")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a company; refuses a likely duplicate (INN, email, phone, name)."""
    from tui_crm.services.companies import CompanyInput
    from tui_crm.services.companies import add_company as add
    from tui_crm.services.parties import OnDuplicate

    policy = OnDuplicate.ENRICH if enrich else OnDuplicate.CREATE if force else OnDuplicate.ERROR
    detail = add(
        state.crm(),
        CompanyInput(
            name=name,
            inn=inn,
            phones=phone or [],
            emails=email or [],
            web=web,
            address=address,
            company_type=type_,
            industry=industry,
            employees=employees,
            turnover=turnover,
            territory=territory,
            needs=needs,
            tags=tag or [],
        ),
        policy,
    )
    if json_:
        emit_json(detail)
        return
    say(f"Company {detail.id[:8]} «{clean(detail.name)}»")


@app.command("task")
def add_task(
    text: Annotated[str, typer.Argument(help="What to do.")],
    due: Annotated[str, typer.Option(help='When: "tomorrow 10:00", +3d, пятница 14:00.')] = "tomorrow 10:00",
    deal: Annotated[str | None, typer.Option(help="Deal id or name.")] = None,
    contact: Annotated[str | None, typer.Option(help="Contact id or name.")] = None,
    company: Annotated[str | None, typer.Option(help="Company id or name.")] = None,
    type_: Annotated[str, typer.Option("--type", help="call, meeting, email, follow-up, other.")] = "follow-up",
    responsible: Annotated[str | None, typer.Option()] = None,
    json_: JsonOpt = False,
) -> None:
    """Add a task, optionally linked to a deal, contact or company."""
    from tui_crm.services.tasks import TaskInput
    from tui_crm.services.tasks import add_task as add

    entity_type, ref = next(((t, r) for t, r in (("deal", deal), ("contact", contact), ("company", company)) if r), (None, None))
    view = add(
        state.crm(),
        TaskInput(text=text, due=due, task_type=type_, entity_type=entity_type, entity_ref=ref, responsible=responsible),
    )
    if json_:
        emit_json(view)
        return
    say(f"Task {view.id[:8]} «{clean(view.text)}» due {view.due_at:%Y-%m-%d %H:%M}")


@app.command("note")
def add_note(
    text: Annotated[str, typer.Argument(help="The note.")],
    deal: Annotated[str | None, typer.Option()] = None,
    contact: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option()] = None,
    pin: Annotated[bool, typer.Option("--pin", help="Pin it to the top of the timeline.")] = False,
    call: Annotated[str | None, typer.Option("--call", help="Log a call with this outcome: reached, no answer, busy...")] = None,
    json_: JsonOpt = False,
) -> None:
    """Add a note (or a call log) to a deal, contact or company."""
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.notes import add_note as add

    target = next(((t, r) for t, r in (("deal", deal), ("contact", contact), ("company", company)) if r), None)
    if target is None:
        raise ValidationError("note", "say where: --deal, --contact or --company")
    view = add(state.crm(), target[0], target[1], text, pinned=pin, kind="call" if call else "note", call_outcome=call)
    if json_:
        emit_json(view)
        return
    say(f"Note {view.id[:8]} added" + (" (pinned)" if view.pinned else ""))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="add")
