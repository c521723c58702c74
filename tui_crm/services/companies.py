"""Companies: create (with the duplicate check), edit, show, list."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.fields import validate_value
from tui_crm.domain.text import fold
from tui_crm.domain.validation import normalize_url, validate_inn
from tui_crm.services.contacts import Removals, removal_targets, remove_channels
from tui_crm.services.context import Crm
from tui_crm.services.parties import (
    OnDuplicate,
    assignable_user,
    attach_channels,
    check_duplicates,
    find_user,
    list_parties,
    search_ids,
    validate_channels,
)
from tui_crm.services.records import (
    change_tags,
    channels_of,
    custom_values,
    reindex,
    reindex_linked,
    resolve,
    set_custom_value,
    tags_of,
    user_names,
)
from tui_crm.services.tasks import hand_over_open_tasks
from tui_crm.services.views import CompanyDetail, LinkView, PartySummary
from tui_crm.storage.models import Company, Contact, Deal

REQUIRED_COMPANY_FIELDS = ("name", "inn", "company_type", "turnover", "web", "industry", "employees", "needs", "territory")
COMPANY_TYPES = ("new client", "existing client", "partner")
TERRITORIES = ("РФ", "Запад")
_TYPE_ALIASES = {
    "new": "new client",
    "новый": "new client",
    "новый клиент": "new client",
    "existing": "existing client",
    "существующий": "existing client",
    "существующий клиент": "existing client",
    "partner": "partner",
    "партнер": "partner",
}
_TERRITORY_ALIASES = {"рф": "РФ", "ru": "РФ", "russia": "РФ", "запад": "Запад", "west": "Запад"}


@dataclass
class CompanyInput:
    name: str
    inn: str | None = None
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    web: str | None = None
    address: str | None = None
    company_type: str | None = None
    turnover: str | None = None
    industry: str | None = None
    employees: str | None = None
    needs: str | None = None
    territory: str | None = None
    responsible: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def _plain_values(values: dict[str, str | None]) -> dict[str, object]:
    """Validate the built-in company columns given as text."""
    out: dict[str, object] = {}
    for key, raw in values.items():
        if raw is None:
            continue
        raw = raw.strip()
        if key == "name":
            if not raw:
                raise ValidationError("name", "a company needs a name (the brand, e.g. Магнит)")
            out["name"], out["name_fold"] = raw, fold(raw)
        elif key == "inn":
            out["inn"] = validate_inn(raw) if raw else None
        elif key == "web":
            out["web"] = normalize_url(raw) if raw else None
        elif key == "company_type":
            value = _TYPE_ALIASES.get(fold(raw), fold(raw))
            if value not in COMPANY_TYPES:
                raise ValidationError("type", f"{raw!r}: use one of {', '.join(COMPANY_TYPES)}")
            out["company_type"] = value
        elif key == "territory":
            value = _TERRITORY_ALIASES.get(fold(raw))
            if value is None:
                raise ValidationError("territory", f"{raw!r}: use РФ or Запад")
            out["territory"] = value
        elif key == "employees":
            digits = raw.replace(" ", "")
            if digits and not digits.isdigit():
                raise ValidationError("employees", f"{raw!r} is not a whole number")
            out["employees"] = int(digits) if digits else None
        elif key in ("address", "turnover", "industry", "needs"):
            out[key] = raw or None
        else:
            raise ValidationError(key, "no such company field")
    return out


def add_company(crm: Crm, data: CompanyInput, policy: OnDuplicate = OnDuplicate.ERROR) -> CompanyDetail:
    """Create a company; a likely duplicate is refused (or enriched) per policy."""
    plain = _plain_values(
        {
            "name": data.name,
            "inn": data.inn,
            "web": data.web,
            "address": data.address,
            "company_type": data.company_type,
            "turnover": data.turnover,
            "industry": data.industry,
            "employees": data.employees,
            "needs": data.needs,
            "territory": data.territory,
        }
    )
    channels = validate_channels(data.phones, data.emails, crm.settings.phone_region)
    defs = crm.pipelines.company_fields
    custom = {}
    for key, raw in data.custom.items():
        if key not in defs:
            raise ValidationError(key, f"no such company field; known: {', '.join(defs) or 'none'}")
        custom[key] = validate_value(defs[key], raw, phone_region=crm.settings.phone_region, now=crm.now())
    with crm.uow() as work:
        session = work.session
        responsible_id = assignable_user(session, data.responsible).id if data.responsible else crm.user_id
        match = check_duplicates(
            session, "company", policy, name=str(plain["name"]), channels=channels, inn=plain.get("inn"), user_id=crm.user_id  # type: ignore[arg-type]
        )
        if match is None:
            company = Company(responsible_id=responsible_id, **plain)  # type: ignore[arg-type]
            work.create(company)
            session.flush()
        else:
            company = session.get(Company, match.id)  # type: ignore[assignment]
            assert company is not None
            work.update(
                company, **{k: v for k, v in plain.items() if k not in ("name", "name_fold") and getattr(company, k) is None}
            )
        attach_channels(work, company, channels)
        for key, value in custom.items():
            set_custom_value(work, company, key, value)
        if data.tags:
            change_tags(work, company, add=data.tags)
        reindex(session, "company", company.id)
    return get_company(crm, company.id)


def edit_company(
    crm: Crm,
    ref: str,
    values: dict[str, str],
    *,
    remove: Removals | None = None,
    remove_typed: Removals | None = None,
) -> CompanyDetail:
    """Set fields from ``key=value``; ``phone``/``email`` add a channel.

    ``remove`` maps a channel kind to the normalised value(s) to drop (as
    ``edit_contact`` takes it), so a card can remove a phone or an e-mail
    through the same logged write path as every other edit. ``remove_typed``
    takes them as a user typed them and refuses one the company lacks (see
    ``edit_contact``).
    """
    targets = removal_targets(crm, remove_typed, ("phone", "email"))
    phones = [v for k, v in values.items() if k == "phone"]
    emails = [v for k, v in values.items() if k == "email"]
    rest = {("company_type" if k == "type" else k): v for k, v in values.items() if k not in ("phone", "email", "responsible")}
    defs = crm.pipelines.company_fields
    custom = {
        k: validate_value(defs[k], rest.pop(k), phone_region=crm.settings.phone_region, now=crm.now())
        for k in list(rest)
        if k in defs
    }
    plain = _plain_values(rest)  # type: ignore[arg-type]
    channels = validate_channels(phones, emails, crm.settings.phone_region)
    with crm.uow() as work:
        company = resolve(work.session, Company, ref)
        remove_channels(work, company, remove, targets)  # first: a removal is checked against the record as it was
        if "responsible" in values:
            plain["responsible_id"] = assignable_user(work.session, values["responsible"]).id
        previous = company.responsible_id
        work.update(company, **plain)
        hand_over_open_tasks(work, company, previous)
        attach_channels(work, company, channels)
        for key, value in custom.items():
            set_custom_value(work, company, key, value)
        reindex(work.session, "company", company.id)
        reindex_linked(work.session, "company", company.id)
    return get_company(crm, company.id)


def set_company_tags(crm: Crm, ref: str, add: list[str], remove: list[str]) -> list[str]:
    """Add and remove a company's tags in one logged change; returns the tags now on it.

    The same rules as a deal's tags (``records.change_tags``).
    """
    with crm.uow() as work:
        company = resolve(work.session, Company, ref)
        return change_tags(work, company, add=add, remove=remove)


def company_detail(session: Session, company: Company) -> CompanyDetail:
    channels = channels_of(session, "company", company.id)
    contacts = session.exec(
        select(Contact).where(Contact.company_id == company.id, col(Contact.deleted_at).is_(None)).order_by(Contact.name_fold)
    ).all()
    deals = session.exec(
        select(Deal).where(Deal.company_id == company.id, col(Deal.deleted_at).is_(None)).order_by(col(Deal.updated_at).desc())
    ).all()
    have = {k: getattr(company, k) for k in REQUIRED_COMPANY_FIELDS}
    return CompanyDetail(
        id=company.id,
        name=company.name,
        responsible=user_names(session).get(company.responsible_id or ""),
        inn=company.inn,
        web=company.web,
        address=company.address,
        company_type=company.company_type,
        turnover=company.turnover,
        industry=company.industry,
        employees=company.employees,
        needs=company.needs,
        territory=company.territory,
        phones=[c.normalized for c in channels if c.kind == "phone"],
        emails=[c.normalized for c in channels if c.kind == "email"],
        contacts=[LinkView(c.id, c.name, "contact") for c in contacts],
        deals=[LinkView(d.id, d.name, "deal") for d in deals],
        tags=tags_of(session, "company", [company.id]).get(company.id, []),
        custom=custom_values(session, "company", company.id),
        missing_required=[k for k, v in have.items() if v in (None, "")],
        created_at=company.created_at,
        updated_at=company.updated_at,
    )


def get_company(crm: Crm, ref: str) -> CompanyDetail:
    with crm.read() as session:
        return company_detail(session, resolve(session, Company, ref))


def list_companies(
    crm: Crm, *, query: str | None = None, responsible: str | None = None, limit: int = 100, offset: int = 0
) -> list[PartySummary]:
    with crm.read() as session:
        ids = search_ids(session, "company", query, limit=limit + offset) if query else None
        responsible_id = find_user(session, responsible).id if responsible else None
        return list_parties(session, "company", query_ids=ids, responsible_id=responsible_id, limit=limit, offset=offset)
