"""Canonical sync values shown the way a person typed them (``crm sync --dry-run``).

The sync engine works in the canonical value space: money in kopecks/cents,
due times in Unix seconds, references as local ids, kept amoCRM fields as
``values`` lists. A person checking what the next sync will send should read
``2 000 000 ₽``, ``27.11.2026 10:00``, ``Продажи 2.0 / Лид`` and ``Сайт``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from tui_crm.domain.money import format_money
from tui_crm.services.context import Crm
from tui_crm.storage.models import Company, Contact, Deal, Pipeline, Stage, User
from tui_crm.sync.mapping import display_value, entity_ref

_NAMED = {"company_id": Company, "responsible_id": User, "main_contact": Contact}
_ENTITY_MODELS = {"deal": Deal, "contact": Contact, "company": Company}


def _name(session: Session, model: type, record_id: Any) -> str:
    row = session.get(model, record_id) if record_id else None
    return str(getattr(row, "name", "") or str(record_id)[:8]) if record_id else "—"


def _money(value: Any, currency: str) -> str:
    try:
        return format_money(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return str(value)


def _stage(session: Session, stage_id: Any) -> str:
    stage = session.get(Stage, stage_id) if stage_id else None
    if stage is None:
        return display_value(stage_id)
    pipeline = session.get(Pipeline, stage.pipeline_id)
    return f"{pipeline.name} / {stage.name}" if pipeline else stage.name


def _date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def _custom(crm: Crm, entity: str, key: str, value: Any) -> str:
    definition = crm.pipelines.custom_fields_for(entity).get(key) if entity in _ENTITY_MODELS else None
    kind = getattr(getattr(definition, "type", None), "value", None)
    if kind == "money":
        return _money(value, getattr(definition, "currency", None) or "RUB")
    if kind == "date":
        return _date(value)
    return display_value(value)


def readable(crm: Crm, session: Session, entity: str, name: str, value: Any) -> str:
    """One canonical value as text a person would have typed."""
    if value is None or value == "" or value == []:
        return "—"
    if name == "budget_rub":
        return _money(Decimal(int(value)) / 100, "RUB")
    if name == "budget_usd":
        return _money(Decimal(int(value)) / 100, "USD")
    if name == "due_at":
        return datetime.fromtimestamp(int(value), crm.tz).strftime("%d.%m.%Y %H:%M")
    if name == "birthday":
        return _date(value)
    if name == "stage_id":
        return _stage(session, value)
    if name in _NAMED:
        return _name(session, _NAMED[name], value)
    if name == "contacts":
        return ", ".join(_name(session, Contact, v) for v in value)
    if name == "entity":
        ref = entity_ref(str(value))
        if ref and ref[0] in _ENTITY_MODELS:
            return f"{ref[0]} «{_name(session, _ENTITY_MODELS[ref[0]], ref[1])}»"
        return str(value)
    if name.startswith("custom."):
        return _custom(crm, entity, name.split(".", 1)[1], value)
    return display_value(value)


def readable_fields(crm: Crm, session: Session, entity: str, fields: dict[str, Any]) -> dict[str, str]:
    """Every field of a planned change as text (see :func:`readable`)."""
    return {name: readable(crm, session, entity, name, value) for name, value in fields.items()}
