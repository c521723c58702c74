"""Reading and writing a deal's fields by key, the way gates and
``--set FIELD=VALUE`` see them: built-in columns, custom fields, and
``company.inn`` on the deal's company.

Every value is parsed and validated first (``parse_deal_values``) and only
then written (``write_deal_values``), so a bad value saves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.fields import validate_value
from tui_crm.domain.pipelines import BUILTIN_DEAL_FIELDS
from tui_crm.domain.text import fold
from tui_crm.domain.validation import normalize_url, validate_inn
from tui_crm.services.context import Crm
from tui_crm.services.parties import assignable_user
from tui_crm.services.records import reindex, set_custom_value
from tui_crm.storage.models import Company, Deal
from tui_crm.storage.record_edits import gate_values as gate_values  # the gates' view; kept importable here
from tui_crm.storage.unit_of_work import UnitOfWork

SOURCE_SITES = {"ru": "RU", "рф": "RU", "com": "COM", "запад": "COM", "en": "COM"}
# Names people type for the built-in fields.
ALIASES = {
    "budget": "budget_rub",
    "бюджет": "budget_rub",
    "rub": "budget_rub",
    "usd": "budget_usd",
    "source": "source_channel",
    "channel": "source_channel",
    "site": "source_site",
    "url": "source_url",
    "message": "source_message",
    "reason": "loss_reason",
    "inn": "company.inn",
    "company_inn": "company.inn",
}
BUILTIN_KEYS = (
    "name",
    "budget_rub",
    "budget_usd",
    "responsible",
    "company",
    "source_channel",
    "source_site",
    "source_message",
    "source_url",
    "loss_reason",
    "company.inn",
)


def to_minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def from_minor(minor: int | None) -> Decimal | None:
    return None if minor is None else (Decimal(minor) / 100).quantize(Decimal("0.01"))


@dataclass
class ParsedValue:
    key: str
    value: Any  # validated; None clears


def canonical_key(crm: Crm, raw_key: str) -> str:
    key = raw_key.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in BUILTIN_KEYS or key in crm.pipelines.fields:
        return key
    for fkey, fdef in crm.pipelines.fields.items():
        if fold(fdef.label) == fold(raw_key):
            return fkey
    known = ", ".join([*BUILTIN_KEYS, *crm.pipelines.fields])
    raise ValidationError(raw_key, f"no such deal field; known: {known}")


def parse_deal_values(crm: Crm, values: dict[str, str]) -> list[ParsedValue]:
    """Validate ``key=value`` input for a deal; raises on the first bad one."""
    parsed: list[ParsedValue] = []
    for raw_key, raw in values.items():
        key = canonical_key(crm, raw_key)
        try:
            parsed.append(_parse_one(crm, key, raw))
        except ValidationError as error:
            error.key = error.key or key  # a form shows it under this field, whatever label the message uses
            raise
    return parsed


def _parse_one(crm: Crm, key: str, raw: str) -> ParsedValue:
    """One value of ``parse_deal_values``, by its canonical key."""
    text = raw.strip() if isinstance(raw, str) else raw
    if text in ("", None):
        if key == "name":
            raise ValidationError("name", "a deal needs a name")
        return ParsedValue(key, None)
    if key in ("budget_rub", "budget_usd"):
        # The field's currency is checked: "12 тыс ₽" is refused for Бюджет ($).
        value: Any = Decimal(str(validate_value(BUILTIN_DEAL_FIELDS[key], text)))
    elif key == "source_site":
        value = SOURCE_SITES.get(fold(text))
        if value is None:
            raise ValidationError("site", f"{text!r}: use RU or COM")
    elif key == "source_url":
        value = normalize_url(text)
    elif key == "company.inn":
        value = validate_inn(text)
    elif key == "loss_reason":
        value = crm.pipelines.loss_reason_value(text)  # one of the pipelines file's reasons, or «Другое: …»
    elif key in crm.pipelines.fields:
        value = validate_value(crm.pipelines.fields[key], text, phone_region=crm.settings.phone_region, now=crm.now())
    else:
        value = text
    return ParsedValue(key, value)


def write_deal_values(crm: Crm, work: UnitOfWork, deal: Deal, parsed: list[ParsedValue]) -> None:
    """Write validated values onto the deal (and its company for company.inn)."""
    from tui_crm.services.contacts import company_for

    columns: dict[str, Any] = {}
    # company.inn goes onto the deal's company: set company=... first, whatever the typed order.
    for item in sorted(parsed, key=lambda p: p.key == "company.inn"):
        if item.key in ("budget_rub", "budget_usd"):
            columns[item.key] = to_minor(item.value)
        elif item.key == "name":
            columns["name"], columns["name_fold"] = item.value, fold(item.value)
        elif item.key == "responsible":
            columns["responsible_id"] = assignable_user(work.session, item.value).id if item.value else None
        elif item.key == "company":
            columns["company_id"] = company_for(work, item.value, deal.responsible_id).id if item.value else None
        elif item.key == "company.inn":
            company_id = columns.get("company_id", deal.company_id)
            if company_id is None:
                raise ValidationError("ИНН компании", "the deal has no company; set company=NAME first", key="company.inn")
            company = work.session.get(Company, company_id)
            assert company is not None
            if work.update(company, inn=item.value):
                reindex(work.session, "company", company.id)  # the INN is searchable
        elif item.key in crm.pipelines.fields:
            set_custom_value(work, deal, item.key, item.value)
        else:
            columns[item.key] = item.value
    work.update(deal, **columns)
