"""Daily work: ``move``, ``copy``, ``bulk``, ``search``, ``agenda``,
``task``, ``unsorted``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui_crm.cli.commands_add import JsonOpt, parse_pairs
from tui_crm.cli.output import clean, emit_json, say, table
from tui_crm.cli.state import state

bulk = typer.Typer(help="Mass actions on the deals a filter selects.", no_args_is_help=True)
task = typer.Typer(help="Complete, reschedule and list tasks.", no_args_is_help=True)
unsorted = typer.Typer(help="Triage incoming requests (Неразобранное).", no_args_is_help=True)


CloseTasksOpt = Annotated[
    bool,
    typer.Option(
        "--close-tasks", help="Closing (won/lost): also complete the open tasks people set (automatic ones always are)."
    ),
]
KeepTasksOpt = Annotated[
    bool, typer.Option("--keep-tasks", help="Closing (won/lost): leave the tasks people set open (the default).")
]


def _close_tasks(close_tasks: bool, keep_tasks: bool) -> bool:
    """The one choice the two flags make; both at once is a usage error."""
    if close_tasks and keep_tasks:
        from tui_crm.domain.errors import ValidationError

        raise ValidationError("tasks", "give --close-tasks or --keep-tasks, not both")
    return close_tasks


def _closed_tasks_lines(outcome, explicit: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """What closing did to the deal's open tasks, one line each way."""
    lines = []
    if outcome.tasks_completed:
        lines.append("  completed: " + ", ".join(f"«{clean(t)}»" for t in outcome.tasks_completed))
    if outcome.tasks_kept:
        hint = "" if explicit else " (complete them too with --close-tasks)"
        lines.append("  kept open: " + ", ".join(f"«{clean(t)}»" for t in outcome.tasks_kept) + hint)
    return lines


def move(
    deal: Annotated[str, typer.Argument(help="Deal id prefix or name.")],
    stage: Annotated[str, typer.Argument(help="Target stage name, key or number.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE to fill first (repeatable).")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Move into another pipeline.")] = None,
    close_tasks: CloseTasksOpt = False,
    keep_tasks: KeepTasksOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Move a deal to a stage through its gate (exit 6 names missing fields).

    Into Won, the closing sum in RUB is budget_usd at the Bank of Russia's rate
    of the day unless --set gives it; without a rate (offline) exit 6 asks for it.
    Closing it (won/lost) completes its open automatic tasks; the tasks
    people set stay open unless --close-tasks."""
    from tui_crm.domain.errors import GateRefused
    from tui_crm.services.deals import move_deal
    from tui_crm.services.rates import plan_closing

    crm = state.crm()
    plan = plan_closing(crm, deal, stage, parse_pairs(set_), pipeline)
    try:
        outcome = move_deal(crm, deal, stage, plan.values, pipeline, close_tasks=_close_tasks(close_tasks, keep_tasks))
    except GateRefused:
        if plan.proposal is not None and plan.proposal.amount is None:
            from tui_crm.cli.output import error

            error(f"{plan.proposal.explain()}: --set {plan.proposal.field}=AMOUNT")
        raise
    if json_:
        emit_json(outcome)
        return
    if plan.proposal is not None and plan.proposal.amount is not None:
        say(f"{clean(plan.proposal.label)}: {clean(plan.proposal.explain())}")
    if not outcome.moved:
        say(f"«{clean(outcome.deal_name)}» is already in {clean(outcome.to_stage)}")
        return
    extra = f"; task «{clean(outcome.auto_task)}» created" if outcome.auto_task else ""
    say(f"Moved «{clean(outcome.deal_name)}»: {clean(outcome.from_stage)} → {clean(outcome.to_stage)}{extra}")
    for line in _closed_tasks_lines(outcome, close_tasks or keep_tasks):
        say(line)


def copy(
    deal: Annotated[str, typer.Argument(help="Deal to copy.")],
    pipeline: Annotated[str | None, typer.Option(help="Target pipeline.")] = None,
    stage: Annotated[
        str | None,
        typer.Option(help="Target stage (through its gate). Default: the deal's stage while open, else Lead."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the copy.")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help="Copy only these fields (repeatable).")] = None,
    no_fields: Annotated[bool, typer.Option("--no-fields", help="Copy no fields.")] = False,
    no_tags: Annotated[bool, typer.Option("--no-tags")] = False,
    no_files: Annotated[bool, typer.Option("--no-files")] = False,
    no_contacts: Annotated[bool, typer.Option("--no-contacts")] = False,
    keep_created: Annotated[bool, typer.Option("--keep-created", help="Keep the creation date.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE on the copy, before its gate.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Copy a deal into a pipeline and stage (monthly invoices and the like).

    How the deal was closed (closing sum and rate, loss reason, closed date)
    is not copied; a gated stage takes --set like move (exit 6 names what is missing)."""
    from tui_crm.services.deal_copy import CopyOptions, copy_deal

    options = CopyOptions(
        pipeline=pipeline,
        stage=stage,
        name=name,
        fields=[] if no_fields else field,
        tags=not no_tags,
        files=not no_files,
        contacts=not no_contacts,
        keep_created_at=keep_created,
        set_values=parse_pairs(set_),
    )
    copied = copy_deal(state.crm(), deal, options)
    if json_:
        emit_json(copied)
        return
    say(f"Copied to {copied.id[:8]} «{clean(copied.name)}» in {clean(copied.pipeline)} / {clean(copied.stage)}")


def search(
    query: Annotated[str, typer.Argument(help="Words; each matches as a prefix, any case.")],
    type_: Annotated[str | None, typer.Option("--type", help="deal, contact or company.")] = None,
    limit: Annotated[int, typer.Option()] = 20,
    json_: JsonOpt = False,
) -> None:
    """Search deals, contacts and companies (names, emails, phones, notes)."""
    from tui_crm.services.search import search as find

    results = find(state.crm(), query, types=(type_,) if type_ else None, limit=limit)
    if json_:
        emit_json(results)
        return
    table(f"Search: {query}", ["type", "id", "name", "detail"], [(r.entity_type, r.id[:8], r.name, r.detail) for r in results])


def agenda(
    responsible: Annotated[str | None, typer.Option(help="Whose tasks (default: yours).")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Everyone's tasks.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Tasks shown per group (counts are always complete).")] = 50,
    json_: JsonOpt = False,
    ical: Annotated[bool, typer.Option("--ical", help="Write the tasks as iCalendar (VTODO/VEVENT).")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="With --ical: the .ics file (default: stdout).")] = None,
) -> None:
    """Open tasks: Overdue / Today / Tomorrow / This week / Later, with the
    true count of each group (--json: {"totals", "groups", "limit"})."""
    from tui_crm.services.tasks import agenda as load

    crm = state.crm()
    if ical:
        from tui_crm.services.calendar_feed import agenda_ical
        from tui_crm.services.tasks import agenda_counts

        every = max(agenda_counts(crm, responsible=responsible, everyone=everyone).values(), default=0)
        full = load(crm, responsible=responsible, everyone=everyone, limit=every)
        agenda_ical(crm, output, [t for tasks in full.groups.values() for t in tasks])
        return
    view = load(crm, responsible=responsible, everyone=everyone, limit=limit)
    if json_:
        emit_json(view)
        return
    if not any(view.totals.values()):
        say("No open tasks.")
        return
    say(" · ".join(f"{view.totals[title]} {title.lower()}" for title in view.totals))
    for title, tasks in view.groups.items():
        total = view.totals[title]
        if not total:
            continue
        say(f"{title} ({total})")
        for t in tasks:
            when = t.due_at.strftime("%Y-%m-%d") if t.all_day else t.due_at.strftime("%Y-%m-%d %H:%M")
            late = f"  [{t.overdue_by} late]" if t.overdue_by else ""
            about = f"  — {clean(t.entity_name)}" if t.entity_name else ""
            say(f"  {t.id[:8]}  {when}  {t.task_type:<9} {clean(t.text)}{about}{late}")
        if total > len(tasks):
            say(f"  … {total - len(tasks)} more (show them with --limit {total})")


@task.command("done")
def task_done(
    ref: Annotated[str, typer.Argument(help="Task id prefix.")],
    result: Annotated[str | None, typer.Option("--result", "-r", help="What came of it.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Complete a task with its result."""
    from tui_crm.services.tasks import complete_task

    view = complete_task(state.crm(), ref, result)
    if json_:
        emit_json(view)
        return
    say(f"Done: «{clean(view.text)}»")


@task.command("reschedule")
def task_reschedule(
    ref: Annotated[str, typer.Argument()],
    when: Annotated[str, typer.Argument(help="New due, e.g. +2d (keeps the time of day), пятница 15:00.")],
    past: Annotated[bool, typer.Option("--past", help="Allow a due moment that has already passed.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Move a task's due date (a past one needs --past)."""
    from tui_crm.services.tasks import reschedule_task

    view = reschedule_task(state.crm(), ref, when, allow_past=past)
    if json_:
        emit_json(view)
        return
    due = f"{view.due_at:%Y-%m-%d}" if view.all_day else f"{view.due_at:%Y-%m-%d %H:%M}"
    say(f"«{clean(view.text)}» now due {due}")


@task.command("reopen")
def task_reopen(ref: Annotated[str, typer.Argument()]) -> None:
    """Reopen a completed task."""
    from tui_crm.services.tasks import reopen_task

    view = reopen_task(state.crm(), ref)
    say(f"Reopened «{clean(view.text)}»")


@task.command("list")
def task_list(deal: Annotated[str, typer.Argument(help="Deal id or name.")], json_: JsonOpt = False) -> None:
    """Tasks of one deal, done ones included."""
    from tui_crm.services.deals import get_deal
    from tui_crm.services.tasks import tasks_of

    crm = state.crm()
    tasks = tasks_of(crm, get_deal(crm, deal).id)
    if json_:
        emit_json(tasks)
        return
    table(
        "Tasks",
        ["id", "due", "type", "text", "state"],
        [
            (
                t.id[:8],
                t.due_at,
                t.task_type,
                t.text,
                "done" if t.completed_at else (f"{t.overdue_by} late" if t.overdue_by else "open"),
            )
            for t in tasks
        ],
    )


def _bulk_filter(
    pipeline: str | None, stage: str | None, responsible: str | None, tag: str | None, query: str | None, overdue: bool
):
    from tui_crm.services.deal_queries import DealFilter

    return DealFilter(pipeline=pipeline, stage=stage, responsible=responsible, tag=tag, query=query, overdue=overdue)


PipelineF = Annotated[str | None, typer.Option("--pipeline", help="Filter: pipeline.")]
StageF = Annotated[str | None, typer.Option("--stage", help="Filter: stage.")]
RespF = Annotated[str | None, typer.Option("--responsible", help="Filter: responsible user.")]
TagF = Annotated[str | None, typer.Option("--tag", help="Filter: tag.")]
QueryF = Annotated[str | None, typer.Option("--query", "-q", help="Filter: search words.")]
OverdueF = Annotated[bool, typer.Option("--overdue", help="Filter: with an overdue task.")]
IdsF = Annotated[list[str] | None, typer.Option("--id", help="Explicit deal ids (repeatable) instead of a filter.")]


def _targets(crm, ids: list[str] | None) -> list[str] | None:  # type: ignore[no-untyped-def]
    if not ids:
        return None
    from tui_crm.services.deals import get_deal

    return [get_deal(crm, ref).id for ref in ids]


def _report(report, json_: bool) -> None:  # type: ignore[no-untyped-def]
    if json_:
        emit_json(report)
        return
    handed = f"; {report.tasks_moved} open task{'' if report.tasks_moved == 1 else 's'} went along" if report.tasks_moved else ""
    say(f"{report.action}: {report.changed} of {report.selected} deals changed{handed} (batch {report.batch_id[:8]})")
    for o in report.outcomes:
        status = "moved" if o.moved else ("refused: missing " + ", ".join(o.missing) if o.missing else (o.error or "unchanged"))
        say(f"  {o.deal_id[:8]}  {clean(o.deal_name)}: {status}")


@bulk.command("responsible")
def bulk_responsible(
    user: Annotated[str, typer.Argument()],
    pipeline: PipelineF = None,
    stage: StageF = None,
    responsible: RespF = None,
    tag: TagF = None,
    query: QueryF = None,
    overdue: OverdueF = False,
    id_: IdsF = None,
    json_: JsonOpt = False,
) -> None:
    """Give the selected deals to another user; their open tasks go along."""
    from tui_crm.services.bulk import change_responsible

    crm = state.crm()
    _report(
        change_responsible(
            crm, user, ids=_targets(crm, id_), flt=_bulk_filter(pipeline, stage, responsible, tag, query, overdue)
        ),
        json_,
    )


@bulk.command("task")
def bulk_task(
    text: Annotated[str, typer.Argument()],
    due: Annotated[str, typer.Option()] = "tomorrow 10:00",
    type_: Annotated[str, typer.Option("--type")] = "follow-up",
    pipeline: PipelineF = None,
    stage: StageF = None,
    responsible: RespF = None,
    tag: TagF = None,
    query: QueryF = None,
    overdue: OverdueF = False,
    id_: IdsF = None,
    json_: JsonOpt = False,
) -> None:
    """Add the same task to every selected deal."""
    from tui_crm.services.bulk import add_task_to_each

    crm = state.crm()
    flt = _bulk_filter(pipeline, stage, responsible, tag, query, overdue)
    _report(add_task_to_each(crm, text, due, type_, ids=_targets(crm, id_), flt=flt), json_)


@bulk.command("move")
def bulk_move(
    to: Annotated[str, typer.Argument(help="Target stage.")],
    pipeline: PipelineF = None,
    stage: StageF = None,
    responsible: RespF = None,
    tag: TagF = None,
    query: QueryF = None,
    overdue: OverdueF = False,
    id_: IdsF = None,
    close_tasks: CloseTasksOpt = False,
    keep_tasks: KeepTasksOpt = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=VALUE for every deal that moves, e.g. loss_reason=Дорого.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Move the selected deals through the gate; prints a per-deal report.

    Closing them (won/lost) completes their open automatic tasks; the tasks
    people set stay open unless --close-tasks. Exit 6 when the gate refused
    any deal (the others moved)."""
    from tui_crm.cli import exit_codes
    from tui_crm.services.bulk import change_stage

    crm = state.crm()
    flt = _bulk_filter(pipeline, stage, responsible, tag, query, overdue)
    close = _close_tasks(close_tasks, keep_tasks)
    report = change_stage(
        crm, to, pipeline_ref=pipeline, ids=_targets(crm, id_), flt=flt, close_tasks=close, set_values=parse_pairs(set_)
    )
    _report(report, json_)
    if not json_:
        for outcome in report.outcomes:
            for line in _closed_tasks_lines(outcome, close_tasks or keep_tasks):
                say(f"  {outcome.deal_id[:8]}{line}")
    refused = [o for o in report.outcomes if not o.moved and (o.missing or o.error)]
    if refused:
        from tui_crm.cli.output import error

        error(f"{len(refused)} of {report.selected} deals not moved (see the report); fill what they miss, then move them again")
        raise typer.Exit(exit_codes.GATE_REFUSED if any(o.missing for o in refused) else exit_codes.ERROR)


@bulk.command("tag")
def bulk_tag(
    add: Annotated[list[str] | None, typer.Option("--add")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove")] = None,
    pipeline: PipelineF = None,
    stage: StageF = None,
    responsible: RespF = None,
    tag: TagF = None,
    query: QueryF = None,
    overdue: OverdueF = False,
    id_: IdsF = None,
    json_: JsonOpt = False,
) -> None:
    """Add/remove tags on the selected deals."""
    from tui_crm.services.bulk import change_tags_of_each

    crm = state.crm()
    flt = _bulk_filter(pipeline, stage, responsible, tag, query, overdue)
    _report(change_tags_of_each(crm, add or [], remove or [], ids=_targets(crm, id_), flt=flt), json_)


@bulk.command("delete")
def bulk_delete(
    pipeline: PipelineF = None,
    stage: StageF = None,
    responsible: RespF = None,
    tag: TagF = None,
    query: QueryF = None,
    overdue: OverdueF = False,
    id_: IdsF = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Soft-delete the selected deals (undo: crm bulk undo)."""
    from tui_crm.services.bulk import delete
    from tui_crm.services.deal_queries import count_deals

    crm = state.crm()
    flt = _bulk_filter(pipeline, stage, responsible, tag, query, overdue)
    ids = _targets(crm, id_)
    n = len(ids) if ids is not None else count_deals(crm, flt)
    if not yes and not typer.confirm(f"Delete {n} deals?"):
        raise typer.Abort()
    report = delete(crm, ids=ids, flt=flt)
    _report(report, json_)
    if not json_:
        say(f"Undo with: crm bulk undo {report.batch_id[:8]}")


@bulk.command("undo")
def bulk_undo(
    batch: Annotated[str | None, typer.Argument(help="Batch id (default: the last mass delete).")] = None, json_: JsonOpt = False
) -> None:
    """Restore the deals a mass delete removed, or split a merge again (crm contacts|companies merge)."""
    from tui_crm.services.bulk import undo_delete
    from tui_crm.services.merge import merge_to_undo, undo_merge

    crm = state.crm()
    merged = merge_to_undo(crm, batch)  # the batch is a merge, or the last merge came after the last mass delete
    if merged is not None:
        split = undo_merge(crm, merged)
        if json_:
            emit_json(split)
        else:
            say(f"Split «{clean(split.loser.name)}» from «{clean(split.winner.name)}» again (batch {split.batch_id[:8]})")
        return
    _report(undo_delete(crm, batch), json_)


@unsorted.command("list")
def unsorted_list(
    pipeline: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str, typer.Option(help="new, accepted, declined or all.")] = "new",
    json_: JsonOpt = False,
) -> None:
    """Incoming requests waiting for triage."""
    from tui_crm.services.unsorted import list_unsorted

    rows = list_unsorted(state.crm(), pipeline, status)
    if json_:
        emit_json(rows)
        return
    table(
        "Неразобранное",
        ["id", "received", "from", "subject", "status"],
        [(r.id[:8], r.received_at, r.sender_name or r.sender_email or r.sender_phone, r.subject, r.status) for r in rows],
    )


@unsorted.command("add")
def unsorted_add(
    subject: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    body: Annotated[str | None, typer.Option()] = None,
    pipeline: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str, typer.Option(help="form, mail...")] = "form",
    site: Annotated[str | None, typer.Option(help="RU or COM (or the site's address).")] = None,
    url: Annotated[str | None, typer.Option(help="The page the request came from.")] = None,
    territory: Annotated[str | None, typer.Option(help="РФ or Запад (default: from the site).")] = None,
    file: Annotated[list[Path] | None, typer.Option("--file", help="A file sent with the request (repeatable).")] = None,
    json_: JsonOpt = False,
) -> None:
    """File an incoming request (a web form, a forwarded mail)."""
    from tui_crm.services.unsorted import IncomingRequest, add_incoming

    view = add_incoming(
        state.crm(),
        IncomingRequest(
            pipeline=pipeline, source=source, sender_name=name, sender_email=email, sender_phone=phone,
            subject=subject, body=body, site=site, url=url, territory=territory, files=file or [],
        ),
    )
    if json_:
        emit_json(view)
        return
    say(f"Filed {view.id[:8]} in {clean(view.pipeline)} / Неразобранное")


@unsorted.command("accept")
def unsorted_accept(
    ref: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Option(help="Deal name.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Accept: becomes a deal at stage Lead with its contact."""
    from tui_crm.services.unsorted import accept

    deal = accept(state.crm(), ref, name)
    if json_:
        emit_json(deal)
        return
    say(f"Accepted as deal {deal.id[:8]} «{clean(deal.name)}» in {clean(deal.stage)}")


@unsorted.command("decline")
def unsorted_decline(ref: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option(help="Why.")]) -> None:
    """Decline with a reason; kept out of the pipeline."""
    from tui_crm.services.unsorted import decline

    view = decline(state.crm(), ref, reason)
    say(f"Declined {view.id[:8]}: {clean(view.decline_reason)}")


def register(app: typer.Typer) -> None:
    app.command("move")(move)
    app.command("copy")(copy)
    app.command("search")(search)
    app.command("agenda")(agenda)
    app.add_typer(bulk, name="bulk")
    app.add_typer(task, name="task")
    app.add_typer(unsorted, name="unsorted")
