"""``crm deals|contacts|companies list|show|edit|tag``, ``crm deals link|unlink``.

Every command parses, calls one service and prints; what a removal or an
unlink may do (normalising a typed phone, refusing one the record lacks,
handing "main" to the next contact) is decided in ``services/`` once, for
the CLI and the TUI cards alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tui_crm.cli.commands_add import JsonOpt, parse_pairs
from tui_crm.cli.output import clean, emit_json, fields, say, table
from tui_crm.cli.state import state

if TYPE_CHECKING:  # services load only when a command runs (see cli/main.py)
    from tui_crm.services.views import DealDetail

deals = typer.Typer(help="List, show, edit and tag deals; link and unlink their contacts.", no_args_is_help=True)
contacts = typer.Typer(help="List, show, edit, tag and merge contacts.", no_args_is_help=True)
companies = typer.Typer(help="List, show, edit, tag and merge companies.", no_args_is_help=True)
apps = {"deals": deals, "contacts": contacts, "companies": companies}

LimitOpt = Annotated[int, typer.Option(help="Rows per page.")]
OffsetOpt = Annotated[int, typer.Option(help="Skip this many rows.")]
SetOpt = Annotated[list[str], typer.Argument(help="FIELD=VALUE pairs.")]
PartySetOpt = Annotated[list[str] | None, typer.Argument(help="FIELD=VALUE pairs.", show_default=False)]
TagAddOpt = Annotated[list[str] | None, typer.Option("--add", help="Tag to add (repeatable).", show_default=False)]
TagRemoveOpt = Annotated[list[str] | None, typer.Option("--remove", help="Tag to remove (repeatable).", show_default=False)]
RemoveOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--remove",
        metavar="KIND=VALUE",
        help="Remove a phone or e-mail, typed in any format: phone=\"8 916 123-45-67\", email=a@b.ru (repeatable). "
        "One the record does not have is refused with exit code 3 and nothing is saved.",
        show_default=False,
    ),
]


@deals.command("list")
def deals_list(
    pipeline: Annotated[str | None, typer.Option(help="Pipeline name or key.")] = None,
    stage: Annotated[str | None, typer.Option(help="Stage name or key.")] = None,
    responsible: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Full-text filter.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only deals with an overdue task.")] = False,
    no_open_task: Annotated[bool, typer.Option("--no-open-task", help="Only deals without an open task.")] = False,
    open_only: Annotated[bool, typer.Option("--open", help="Hide won and lost deals.")] = False,
    deleted: Annotated[bool, typer.Option("--deleted", help="Show deleted deals (to restore).")] = False,
    sort: Annotated[str, typer.Option(help="updated, created, name, budget.")] = "updated",
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    history: Annotated[bool, typer.Option("--history", help="With --json: each deal's stage path (stage_path).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Deals matching the filters, newest activity first."""
    from tui_crm.domain.money import format_money
    from tui_crm.services.deal_queries import DealFilter, list_deals

    flt = DealFilter(
        pipeline=pipeline,
        stage=stage,
        responsible=responsible,
        tag=tag,
        query=query,
        overdue=overdue,
        no_open_task=no_open_task,
        include_closed=not open_only,
        deleted=deleted,
    )
    rows = list_deals(state.crm(), flt, sort=sort, limit=limit, offset=offset, history=history and json_)
    if json_:
        emit_json(rows)
        return
    marks = {"overdue": "OVERDUE", "today": "today", "planned": "", "none": "no task"}
    table(
        "Deals",
        ["id", "name", "stage", "budget", "company / contact", "responsible", "task"],
        [
            (
                r.id[:8],
                r.name,
                r.stage,
                format_money(r.budget_rub),
                r.company or r.main_contact,
                r.responsible,
                marks[r.task_mark],
            )
            for r in rows
        ],
    )


@deals.command("show")
def deals_show(ref: Annotated[str, typer.Argument(help="Id prefix or name.")], json_: JsonOpt = False) -> None:
    """A deal with its fields, contacts and timeline."""
    from tui_crm.domain.fields import format_value
    from tui_crm.services.deals import get_deal
    from tui_crm.services.notes import timeline

    crm = state.crm()
    deal = get_deal(crm, ref)
    items = timeline(crm, "deal", deal.id, limit=30)
    messages = _messages(crm, "deal", deal.id)
    if json_:
        emit_json({"deal": deal, "timeline": items, "messages": messages})
        return
    labels = {k: f.label for k, f in crm.pipelines.fields.items()}

    def shown(key: str, value: object) -> str:
        field = crm.pipelines.fields.get(key)
        return clean(format_value(field, value) if field else value)

    fields(
        f"{deal.name}  [{deal.id[:8]}]",
        [
            ("Воронка / этап", f"{deal.pipeline} / {deal.stage}"),
            ("Ответственный", deal.responsible),
            ("Бюджет (RUB)", clean(deal.budget_rub)),
            ("Бюджет ($)", clean(deal.budget_usd)),
            ("Компания", deal.company.name if deal.company else None),
            ("Контакты", ", ".join(c.name + (" (main)" if c.is_main else "") for c in deal.contacts)),
            ("Теги", ", ".join(deal.tags)),
            *[(labels.get(k, k), shown(k, v)) for k, v in deal.custom.items()],
            ("Канал", deal.source_channel),
            ("Сайт", deal.source_site),
            ("Ссылка", deal.source_url),
            ("Сообщение", deal.source_message),
            ("Причина отказа", deal.loss_reason),
            ("Курс закрытия", f"{deal.closing_rate} ₽/$ ({deal.closing_rate_date:%d.%m.%Y})" if deal.closing_rate else None),
            ("Создана", clean(deal.created_at)),
        ],
    )
    _print_timeline(items)
    _print_messages(messages)


def _messages(crm: object, entity_type: str, record_id: str) -> list:  # type: ignore[type-arg]
    """The record's mail, newest first (a page; the private lock applied)."""
    from tui_crm.services.mail_messages import messages_of

    return messages_of(crm, entity_type, record_id, limit=30)  # type: ignore[arg-type]


def _print_messages(messages: list) -> None:  # type: ignore[type-arg]
    if messages:
        say("")
        say("Mail:")
        for m in messages:
            arrow = "→" if m.direction == "out" else "←"
            snippet = f": {clean(m.snippet)}" if m.snippet else ""
            say(f"  {m.sent_at:%Y-%m-%d %H:%M}  {arrow} [{m.id[:8]}] {clean(m.heading)}{snippet}")


def _print_timeline(items: list) -> None:  # type: ignore[type-arg]
    if items:
        say("")
        for item in items:
            pin = "📌 " if item.pinned else ""
            say(f"  {item.at:%Y-%m-%d %H:%M}  {item.kind:<7} {pin}{clean(item.text)}")


@deals.command("edit")
def deals_edit(
    ref: Annotated[str, typer.Argument(help="Id prefix or name.")],
    pairs: SetOpt,
    json_: JsonOpt = False,
) -> None:
    """Set fields: crm deals edit 1a2b budget=2m segment=A city=Казань responsible=Иван."""
    from tui_crm.services.deals import update_deal

    edit = update_deal(state.crm(), ref, parse_pairs(pairs))
    deal = edit.deal
    if json_:
        emit_json(deal)
        return
    handed = f"; {_tasks(edit.tasks_moved)} moved to {clean(deal.responsible)}" if edit.tasks_moved else ""
    say(f"Updated deal {deal.id[:8]} «{clean(deal.name)}»{handed}")


def _tasks(count: int) -> str:
    return f"{count} open task" + ("" if count == 1 else "s")


@deals.command("delete")
def deals_delete(ref: Annotated[str, typer.Argument()]) -> None:
    """Soft-delete a deal (crm deals restore brings it back)."""
    from tui_crm.services.deals import delete_deal

    deal_id = delete_deal(state.crm(), ref)
    say(f"Deleted deal {deal_id[:8]}; undo: crm deals restore {deal_id[:8]}")


@deals.command("restore")
def deals_restore(ref: Annotated[str, typer.Argument()]) -> None:
    """Bring back a deleted deal."""
    from tui_crm.services.deals import restore_deal

    deal = restore_deal(state.crm(), ref)
    say(f"Restored deal {deal.id[:8]} «{clean(deal.name)}»")


@deals.command("tag")
def deals_tag(ref: Annotated[str, typer.Argument()], add: TagAddOpt = None, remove: TagRemoveOpt = None) -> None:
    """Add or remove tags on one deal.

    Example: crm deals tag 1a2b --add VIP --remove холодный
    """
    from tui_crm.services.deals import set_deal_tags

    tags = set_deal_tags(state.crm(), ref, add or [], remove or [])
    say("Tags: " + (clean(tags) or "—"))


@deals.command("link")
def deals_link(
    ref: Annotated[str, typer.Argument(help="Deal.")],
    contact: Annotated[str, typer.Argument(help="Contact id or name.")],
    main: Annotated[bool, typer.Option("--main")] = False,
) -> None:
    """Link a contact to a deal."""
    from tui_crm.services.deals import link_contact

    deal = link_contact(state.crm(), ref, contact, main)
    say(f"Linked; contacts: {_contact_names(deal)}")


@deals.command("unlink")
def deals_unlink(
    ref: Annotated[str, typer.Argument(help="Deal id prefix or name.")],
    contact: Annotated[str, typer.Argument(help="Contact id prefix or name.")],
    json_: JsonOpt = False,
) -> None:
    """Unlink a contact from a deal; if it was the main one, the next contact becomes main."""
    from tui_crm.services.deal_contacts import unlink_contact

    deal = unlink_contact(state.crm(), ref, contact)
    if json_:
        emit_json(deal)
        return
    say(f"Unlinked from deal {deal.id[:8]} «{clean(deal.name)}»; contacts: {_contact_names(deal) or '—'}")


def _contact_names(deal: DealDetail) -> str:
    """``Анна (main), Яна``: the deal's contacts in card order, the main one marked."""
    return ", ".join(clean(c.name) + (" (main)" if c.is_main else "") for c in deal.contacts)


def _party_list(kind: str, query: str | None, responsible: str | None, limit: int, offset: int, json_: bool) -> None:
    from tui_crm.services.companies import list_companies
    from tui_crm.services.contacts import list_contacts

    lister = list_contacts if kind == "contact" else list_companies
    rows = lister(state.crm(), query=query, responsible=responsible, limit=limit, offset=offset)
    if json_:
        emit_json(rows)
        return
    table(
        "Contacts" if kind == "contact" else "Companies",
        ["id", "name", "company" if kind == "contact" else "", "phone", "email", "responsible"],
        [(r.id[:8], r.name, r.company, r.phone, r.email, r.responsible) for r in rows],
    )


@contacts.command("list")
def contacts_list(
    query: Annotated[str | None, typer.Option("--query", "-q")] = None,
    responsible: Annotated[str | None, typer.Option()] = None,
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Contacts sorted by name (Cyrillic-aware)."""
    _party_list("contact", query, responsible, limit, offset, json_)


@companies.command("list")
def companies_list(
    query: Annotated[str | None, typer.Option("--query", "-q")] = None,
    responsible: Annotated[str | None, typer.Option()] = None,
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Companies sorted by name."""
    _party_list("company", query, responsible, limit, offset, json_)


@contacts.command("show")
def contacts_show(ref: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """A contact with its completeness check and deals."""
    from tui_crm.services.contacts import get_contact
    from tui_crm.services.notes import timeline

    crm = state.crm()
    c = get_contact(crm, ref)
    items = timeline(crm, "contact", c.id, limit=30)
    messages = _messages(crm, "contact", c.id)
    if json_:
        emit_json({"contact": c, "timeline": items, "messages": messages})
        return
    fields(
        f"{c.name}  [{c.id[:8]}]",
        [
            ("Телефоны", ", ".join(c.phones)),
            ("Email", ", ".join(c.emails)),
            ("Компания", c.company.name if c.company else None),
            ("Должность", c.position),
            ("Департамент", c.department),
            ("Пол", c.gender),
            ("День рождения", c.birthday),
            ("Мессенджеры", ", ".join(f"{m.kind}: {m.value}" for m in c.messengers)),
            ("Теги", ", ".join(c.tags)),
            ("Сделки", ", ".join(d.name for d in c.deals)),
            ("Ответственный", c.responsible),
            ("Не заполнено", ", ".join(c.missing_required) or "всё заполнено"),
        ],
    )
    _print_timeline(items)
    _print_messages(messages)


@companies.command("show")
def companies_show(ref: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """A company with contacts, deals and its completeness check."""
    from tui_crm.services.companies import get_company

    c = get_company(state.crm(), ref)
    if json_:
        emit_json(c)
        return
    fields(
        f"{c.name}  [{c.id[:8]}]",
        [
            ("ИНН", c.inn),
            ("Тип", c.company_type),
            ("Web", c.web),
            ("Адрес", c.address),
            ("Телефоны", ", ".join(c.phones)),
            ("Email", ", ".join(c.emails)),
            ("Теги", ", ".join(c.tags)),
            ("Отрасль", c.industry),
            ("Сотрудников", c.employees),
            ("Оборот", c.turnover),
            ("Потребности", c.needs),
            ("Территория", c.territory),
            ("Контакты", ", ".join(x.name for x in c.contacts)),
            ("Сделки", ", ".join(d.name for d in c.deals)),
            ("Ответственный", c.responsible),
            ("Не заполнено", ", ".join(c.missing_required) or "всё заполнено"),
        ],
    )


def _removals(pairs: list[str] | None, items: list[str] | None) -> dict[str, list[str]]:
    """``--remove phone=... --remove phone=...`` as kind -> values (a kind may repeat).

    FIELD=VALUE pairs became optional so that ``--remove`` can stand alone;
    an edit with neither stays a usage error (exit 2), as it was.
    """
    if not pairs and not items:
        raise typer.BadParameter("nothing to change: give FIELD=VALUE pairs or --remove KIND=VALUE")
    removals: dict[str, list[str]] = {}
    for pair in items or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            from tui_crm.domain.errors import ValidationError

            raise ValidationError("--remove", f"{pair!r}: write KIND=VALUE, e.g. --remove phone=+79161234567")
        removals.setdefault(key.strip(), []).append(value)
    return removals


@contacts.command("edit")
def contacts_edit(
    ref: Annotated[str, typer.Argument()], pairs: PartySetOpt = None, remove: RemoveOpt = None, json_: JsonOpt = False
) -> None:
    """Set fields, add or remove a phone or e-mail.

    \b
    crm contacts edit Иван position=CTO birthday=17.05.1990 phone="+7 916 123-45-67"
    crm contacts edit Иван --remove phone="8 916 123-45-67" --remove email=ivan@magnit.ru
    """
    from tui_crm.services.contacts import edit_contact

    c = edit_contact(state.crm(), ref, parse_pairs(pairs), remove_typed=_removals(pairs, remove))
    if json_:
        emit_json(c)
        return
    say(f"Updated contact {c.id[:8]} «{clean(c.name)}»")


@companies.command("edit")
def companies_edit(
    ref: Annotated[str, typer.Argument()], pairs: PartySetOpt = None, remove: RemoveOpt = None, json_: JsonOpt = False
) -> None:
    """Set fields, add or remove a phone or e-mail.

    \b
    crm companies edit Магнит inn=7707083893 type=partner territory=РФ web=magnit.ru phone=...
    crm companies edit Магнит --remove phone="+7 495 123-45-67" --remove email=info@magnit.ru
    """
    from tui_crm.services.companies import edit_company

    c = edit_company(state.crm(), ref, parse_pairs(pairs), remove_typed=_removals(pairs, remove))
    if json_:
        emit_json(c)
        return
    say(f"Updated company {c.id[:8]} «{clean(c.name)}»")


@contacts.command("tag")
def contacts_tag(ref: Annotated[str, typer.Argument()], add: TagAddOpt = None, remove: TagRemoveOpt = None) -> None:
    """Add or remove tags on one contact.

    Example: crm contacts tag Иван --add ЛПР --remove холодный
    """
    from tui_crm.services.contacts import set_contact_tags

    tags = set_contact_tags(state.crm(), ref, add or [], remove or [])
    say("Tags: " + (clean(tags) or "—"))


@companies.command("tag")
def companies_tag(ref: Annotated[str, typer.Argument()], add: TagAddOpt = None, remove: TagRemoveOpt = None) -> None:
    """Add or remove tags on one company.

    Example: crm companies tag Магнит --add партнёр --remove новый
    """
    from tui_crm.services.companies import set_company_tags

    tags = set_company_tags(state.crm(), ref, add or [], remove or [])
    say("Tags: " + (clean(tags) or "—"))


KeepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--keep",
        metavar="FIELD=a|b",
        help="Whose value a field keeps: a (the first record, which survives) or b (the second). "
        "Default: a's value, or b's where a has none (repeatable).",
        show_default=False,
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would be kept and moved; change nothing.")]


def _merge(kind: str, a: str, b: str, keep: list[str] | None, dry_run: bool, json_: bool) -> None:
    from tui_crm.services.merge import merge, plan_merge

    crm = state.crm()
    choices = _keep_pairs(keep)
    plan = plan_merge(crm, kind, a, b, choices)
    if dry_run:
        if json_:
            emit_json(plan)
            return
        _print_plan(plan)
        return
    report = merge(crm, kind, a, b, choices)
    if json_:
        emit_json(report)
        return
    _print_plan(plan)
    moved = _moves(report.moved) or "nothing else"
    say(f"Merged «{clean(report.loser.name)}» into {report.winner.id[:8]} «{clean(report.winner.name)}»; moved {moved}.")
    say(f"Undo with: crm bulk undo {report.batch_id[:8]}")


def _keep_pairs(items: list[str] | None) -> dict[str, str]:
    from tui_crm.domain.errors import ValidationError

    keep: dict[str, str] = {}
    for item in items or []:
        key, sep, side = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError("--keep", f"{item!r}: write FIELD=a or FIELD=b, e.g. --keep position=b")
        keep[key.strip()] = side.strip().lower()
    return keep


def _print_plan(plan) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (f.key, f.a or "—", f.b or "—", "a" if f.keep == "a" else "b ←")
        for f in plan.fields
        if f.a or f.b
    ]
    table(f"Merge {plan.b.id[:8]} into {plan.a.id[:8]}", ["field", f"a: {plan.a.name}", f"b: {plan.b.name}", "keeps"], rows)
    say(f"From b to a: {_moves(plan.moves) or 'nothing'}")


_SINGULAR = {"phones": "phone", "emails": "e-mail", "messengers": "messenger", "tags": "tag", "notes": "note",
             "tasks": "task", "files": "file", "deals": "deal", "contacts": "contact"}


def _moves(moves: dict[str, int]) -> str:
    """``2 phones, 1 e-mail, 3 deals``."""
    return ", ".join(
        f"{n} {_SINGULAR.get(what, what) if n == 1 else what.replace('emails', 'e-mails')}" for what, n in moves.items() if n
    )


@contacts.command("merge")
def contacts_merge(
    a: Annotated[str, typer.Argument(help="The contact that stays (id prefix or name).")],
    b: Annotated[str, typer.Argument(help="The duplicate folded into it, then deleted.")],
    keep: KeepOpt = None,
    dry_run: DryRunOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Merge two contacts that are one person: b's phones, e-mails, notes, tasks, files, tags and deals go to a.

    \b
    crm contacts merge 1a2b 3c4d                 a's values, gaps filled from b
    crm contacts merge 1a2b 3c4d --keep position=b --keep name=b
    Undo: crm bulk undo BATCH (printed), or z on the contacts list.
    """
    _merge("contact", a, b, keep, dry_run, json_)


@companies.command("merge")
def companies_merge(
    a: Annotated[str, typer.Argument(help="The company that stays (id prefix or name).")],
    b: Annotated[str, typer.Argument(help="The duplicate folded into it, then deleted.")],
    keep: KeepOpt = None,
    dry_run: DryRunOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Merge two companies that are one: b's contacts, deals, phones, e-mails, notes, tasks, files and tags go to a.

    \b
    crm companies merge Ромашка "ООО Ромашка" --keep inn=b
    Undo: crm bulk undo BATCH (printed), or z on the companies list.
    """
    _merge("company", a, b, keep, dry_run, json_)


@deals.command("attach")
def deals_attach(
    ref: Annotated[str, typer.Argument(help="Deal id prefix or name.")],
    path: Annotated[Path, typer.Argument(help="File to attach (stored once by content).")],
) -> None:
    """Attach a file to a deal."""
    from tui_crm.services.files import attach_file

    sha = attach_file(state.crm(), "deal", ref, path)
    say(f"Attached {clean(path.name)} ({sha[:12]})")


def register(root: typer.Typer) -> None:
    for name, sub in apps.items():
        root.add_typer(sub, name=name)
