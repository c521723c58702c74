"""Notes, call logs and the timeline of a record.

The timeline merges notes, tasks and the change log (stage, field and
responsible changes) into one list: pinned notes first, then newest first.
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.money import format_money
from tui_crm.services.context import Crm
from tui_crm.services.deal_values import from_minor
from tui_crm.services.records import reindex, resolve, user_names
from tui_crm.services.tasks import ENTITY_MODELS, as_utc, task_views
from tui_crm.services.views import NoteView, TimelineItem
from tui_crm.storage.models import ChangeLog, Company, Contact, Deal, Note, Record, Stage, Task

CALL_OUTCOMES = ("reached", "no answer", "busy", "wrong number", "left message")
_FIELD_LABELS = {
    "budget_rub": "Бюджет (RUB)",
    "budget_usd": "Бюджет ($)",
    "responsible_id": "Ответственный",
    "company_id": "Компания",
    "loss_reason": "Причина отказа",
    "name": "Название",
    "source_channel": "Канал",
    "source_site": "Сайт",
    "source_message": "Сообщение",
    "source_url": "Ссылка",
    "contacts": "Контакты",
    "tags": "Теги",
    "phones": "Телефон",
    "emails": "Email",
    "merged_from": "Объединён с",  # services.merge: the record folded into this one
    "merged_into": "Объединён в",
}
_QUIET_FIELDS = {"stage_entered_at", "closed_at", "pipeline_id", "deleted_at"}


def _entity(session: Session, entity_type: str, ref: str) -> Record:
    if entity_type not in ENTITY_MODELS:
        raise ValidationError("entity", f"notes attach to {', '.join(ENTITY_MODELS)}")
    return resolve(session, ENTITY_MODELS[entity_type], ref)


def add_note(
    crm: Crm,
    entity_type: str,
    ref: str,
    text: str,
    *,
    kind: str = "note",
    pinned: bool = False,
    call_outcome: str | None = None,
) -> NoteView:
    """A note or call log on a deal, contact or company."""
    if not text.strip():
        raise ValidationError("note", "the note is empty")
    if call_outcome is not None and call_outcome not in CALL_OUTCOMES:
        raise ValidationError("outcome", f"use one of {', '.join(CALL_OUTCOMES)}")
    with crm.uow() as work:
        record = _entity(work.session, entity_type, ref)
        note = Note(
            entity_type=entity_type,
            entity_id=record.id,
            kind=kind,
            text=text.strip(),
            pinned=pinned,
            author_id=crm.user_id,
            call_outcome=call_outcome,
        )
        work.create(note)
        reindex(work.session, entity_type, record.id)
    return _note_view(note, crm.user_name)


def set_pinned(crm: Crm, note_ref: str, pinned: bool) -> NoteView:
    with crm.uow() as work:
        note = resolve(work.session, Note, note_ref)
        work.update(note, pinned=pinned)
        author = user_names(work.session).get(note.author_id or "")
    return _note_view(note, author)


def _note_view(note: Note, author: str | None) -> NoteView:
    return NoteView(note.id, note.kind, note.text, note.pinned, author, note.created_at, note.call_outcome)


def _describe_change(
    crm: Crm, session: Session, row: ChangeLog, stages: dict[str, str], users: dict[str, str]
) -> list[TimelineItem]:
    changes = json.loads(row.changes)
    labels = {f"custom.{k}": f.label for k, f in crm.pipelines.fields.items()}
    author = users.get(row.user_id or "")
    if row.op == "create":
        return [TimelineItem(row.at, "created", "Создано", author=author)]
    if row.op in ("delete", "restore"):
        return [TimelineItem(row.at, "system", "Удалено" if row.op == "delete" else "Восстановлено", author=author)]
    items: list[TimelineItem] = []
    for key, (old, new) in changes.items():
        if key in _QUIET_FIELDS:
            continue
        if key == "stage_id":
            items.append(TimelineItem(row.at, "stage", f"Этап: {stages.get(old, '?')} → {stages.get(new, '?')}", author=author))
        elif key == "copied_from":
            source = session.get(Deal, new) if new else None
            name = source.name if source is not None else (new or "?")[:8]
            items.append(TimelineItem(row.at, "system", f"Скопировано из «{name}»", author=author))
        elif key == "responsible_id":
            items.append(
                TimelineItem(row.at, "field", f"Ответственный: {users.get(old, '—')} → {users.get(new, '—')}", author=author)
            )
        else:
            label = labels.get(key) or _FIELD_LABELS.get(key, key.removeprefix("custom."))
            if key in ("budget_rub", "budget_usd"):
                currency = "RUB" if key == "budget_rub" else "USD"
                old, new = (None if v is None else format_money(from_minor(v), currency) for v in (old, new))
            elif key in ("company_id", "contacts"):
                model = Company if key == "company_id" else Contact
                old, new = (session.get(model, v).name if v and session.get(model, v) else v for v in (old, new))  # type: ignore[union-attr]
            items.append(TimelineItem(row.at, "field", f"{label}: {_short(old)} → {_short(new)}", author=author))
    return items


def _short(value: object) -> str:
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def timeline(crm: Crm, entity_type: str, ref: str, limit: int = 200) -> list[TimelineItem]:
    """Pinned notes first, then everything else newest first."""
    with crm.read() as session:
        record = _entity(session, entity_type, ref)
        users = user_names(session)
        stages = dict(session.exec(select(Stage.id, Stage.name)).all())
        notes = session.exec(
            select(Note)
            .where(Note.entity_id == record.id, col(Note.deleted_at).is_(None))
            .order_by(col(Note.created_at).desc())
            .limit(limit)
        ).all()
        tasks = list(session.exec(select(Task).where(Task.entity_id == record.id, col(Task.deleted_at).is_(None))))
        changes = session.exec(
            select(ChangeLog).where(ChangeLog.entity_id == record.id).order_by(col(ChangeLog.seq).desc()).limit(limit)
        ).all()
        items = [
            TimelineItem(
                n.created_at,
                n.kind,
                n.text if not n.call_outcome else f"[{n.call_outcome}] {n.text}",
                pinned=n.pinned,
                ref_id=n.id,
                author=users.get(n.author_id or ""),
            )
            for n in notes
        ]
        for view, task in zip(task_views(crm, session, tasks), tasks, strict=True):
            state = (
                f"✓ {view.result or ''}".rstrip()
                if view.completed_at
                else ("просрочена " + view.overdue_by if view.overdue_by else "открыта")
            )
            items.append(
                TimelineItem(
                    task.created_at,
                    "task",
                    f"{view.text} (до {view.due_at:%Y-%m-%d %H:%M}, {state})",
                    ref_id=task.id,
                    author=view.responsible,
                )
            )
        for row in changes:
            items.extend(_describe_change(crm, session, row, stages, users))
    for item in items:
        item.at = as_utc(item.at).astimezone(crm.tz)
    items.sort(key=lambda i: i.at, reverse=True)
    items.sort(key=lambda i: not i.pinned)
    return items[:limit]
