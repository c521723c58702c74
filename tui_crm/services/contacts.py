"""Contacts: create (with the duplicate check), edit, show, list."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from tui_crm.domain.errors import AmbiguousError, NotFoundError, ValidationError
from tui_crm.domain.fields import validate_value
from tui_crm.domain.ids import short_id
from tui_crm.domain.text import fold
from tui_crm.domain.validation import normalize_phone, validate_inn
from tui_crm.domain.when import parse_when
from tui_crm.services.context import Crm
from tui_crm.services.duplicates import companies_named
from tui_crm.services.parties import (
    Channels,
    OnDuplicate,
    assignable_user,
    attach_channels,
    check_duplicates,
    email_channel,
    find_user,
    list_parties,
    search_ids,
    validate_channels,
)
from tui_crm.services.records import (
    add_channel,
    change_tags,
    channels_of,
    custom_values,
    reindex,
    reindex_linked,
    remove_channel,
    resolve,
    set_custom_value,
    tags_of,
    user_names,
)
from tui_crm.services.tasks import hand_over_open_tasks
from tui_crm.services.views import ChannelView, ContactDetail, LinkView, PartySummary
from tui_crm.storage.models import Company, Contact, Deal, DealContact
from tui_crm.storage.unit_of_work import UnitOfWork

Removals = Mapping[str, str | Sequence[str]]
"""What ``edit_contact``/``edit_company`` remove: channel kind -> one value or several."""

REQUIRED_CONTACT_FIELDS = ("name", "email", "phone", "gender", "birthday", "department", "position")
GENDERS = {
    "m": "male",
    "male": "male",
    "м": "male",
    "муж": "male",
    "f": "female",
    "female": "female",
    "ж": "female",
    "жен": "female",
}
MESSENGER_KINDS = ("telegram", "whatsapp", "skype", "linkedin", "facebook", "vk")


@dataclass
class ContactInput:
    name: str
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    position: str | None = None
    department: str | None = None
    gender: str | None = None
    birthday: str | None = None
    company: str | None = None  # name or id of an existing company, or a new name
    responsible: str | None = None
    messengers: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def parse_gender(raw: str) -> str:
    value = GENDERS.get(fold(raw))
    if value is None:
        raise ValidationError("gender", f"{raw!r} is not a gender; use male/female (м/ж)")
    return value


def parse_birthday(raw: str, crm: Crm) -> date:
    try:
        moment, _ = parse_when(raw, crm.now())
    except ValidationError as exc:
        if "out of range" in exc.message:
            raise ValidationError("birthday", exc.message) from None
        raise ValidationError("birthday", f"{raw!r} is not a date; use 1990-05-17 or 17.05.1990") from exc
    return moment.date()


@dataclass
class _ValidContact:
    name: str
    channels: Channels
    gender: str | None
    birthday: date | None
    custom: dict[str, object]


def _validate(crm: Crm, data: ContactInput) -> _ValidContact:
    name = data.name.strip()
    if not name:
        raise ValidationError("name", "a contact needs a name")
    unknown = [k for k in data.messengers if k not in MESSENGER_KINDS]
    if unknown:
        raise ValidationError("messenger", f"unknown kind {unknown[0]!r}; use {', '.join(MESSENGER_KINDS)}")
    defs = crm.pipelines.contact_fields
    custom: dict[str, object] = {}
    for key, raw in data.custom.items():
        if key not in defs:
            raise ValidationError(key, f"no such contact field; known: {', '.join(defs) or 'none'}")
        custom[key] = validate_value(defs[key], raw, phone_region=crm.settings.phone_region, now=crm.now())
    return _ValidContact(
        name=name,
        channels=validate_channels(data.phones, data.emails, crm.settings.phone_region),
        gender=parse_gender(data.gender) if data.gender else None,
        birthday=parse_birthday(data.birthday, crm) if data.birthday else None,
        custom=custom,
    )


def company_for(work: UnitOfWork, ref: str, responsible_id: str | None) -> Company:
    """An existing company by INN, by the same name without its legal form
    and quotes (``ООО «Ромашка»`` finds «Ромашка»), by id or (a unique
    part of) its name; else a new one with that name.

    The name key comes before the looser name search, which would take
    ``ООО Ромашка`` for «ООО «Ромашка-Сервис»» (both words are there).
    Several companies sharing the name key is ambiguous (AmbiguousError
    lists them, nothing is written): guessing would file a deal under the
    wrong client.
    """
    session = work.session
    inn = _valid_inn(ref)
    if inn:
        company = session.exec(select(Company).where(Company.inn == inn, col(Company.deleted_at).is_(None))).first()
        if company is not None:
            return company
    same = [c for c in (session.get(Company, i) for i in companies_named(session, ref)) if c is not None]
    exact = [c for c in same if c.name_fold == fold(ref)]
    if len(same) == 1 or len(exact) == 1:
        return (exact or same)[0]
    if len(same) > 1:
        raise AmbiguousError(
            f"{len(same)} companies match {ref!r}; use the id", [f"{short_id(c.id)}  {c.name}" for c in same[:6]]
        )
    try:
        return resolve(session, Company, ref)
    except NotFoundError:
        pass
    company = Company(name=ref.strip(), name_fold=fold(ref), responsible_id=responsible_id)
    work.create(company)
    session.flush()
    reindex(session, "company", company.id)
    return company


def _valid_inn(text: str) -> str | None:
    try:
        return validate_inn(text)
    except ValidationError:
        return None


def write_contact(
    crm: Crm, work: UnitOfWork, data: ContactInput, policy: OnDuplicate = OnDuplicate.ERROR, *, into: Contact | None = None
) -> tuple[Contact, bool]:
    """Create or enrich a contact inside a caller's transaction.

    Returns (contact, created). Used by ``add_contact`` and by lead capture,
    which must write the deal and its contact in one transaction. ``into``:
    enrich this contact (one the caller already picked) without a duplicate
    check.
    """
    valid = _validate(crm, data)
    session = work.session
    responsible_id = assignable_user(session, data.responsible).id if data.responsible else crm.user_id
    if into is not None:
        match_id: str | None = into.id
    else:
        match = check_duplicates(session, "contact", policy, name=valid.name, channels=valid.channels, user_id=crm.user_id)
        match_id = match.id if match else None
    created = match_id is None
    if match_id is None:
        contact = Contact(name=valid.name, name_fold=fold(valid.name), responsible_id=responsible_id)
        work.create(contact)
        session.flush()
    else:
        contact = session.get(Contact, match_id)  # type: ignore[assignment]
        assert contact is not None
    fill = {
        "position": data.position,
        "department": data.department,
        "gender": valid.gender,
        "birthday": valid.birthday,
    }
    work.update(contact, **{k: v for k, v in fill.items() if v is not None and (created or getattr(contact, k) is None)})
    if data.company:
        company = company_for(work, data.company, responsible_id)
        if created or contact.company_id is None:
            work.update(contact, company_id=company.id)
    attach_channels(work, contact, valid.channels)
    for kind, handle in data.messengers.items():
        add_channel(work, contact, kind, handle, handle.strip())
    for key, value in valid.custom.items():
        set_custom_value(work, contact, key, value)
    if data.tags:
        change_tags(work, contact, add=data.tags)
    reindex(session, "contact", contact.id)
    if not created:  # an enriched contact: its deals are found by its new phone or e-mail too
        reindex_linked(session, "contact", contact.id)
    return contact, created


def lead_contact(crm: Crm, work: UnitOfWork, data: ContactInput, *, typed: str | None) -> tuple[Contact, list[str]]:
    """The contact a captured lead is for, and what the user should be told.

    - A phone or e-mail that is already someone's picks that contact (one
      person, one record) and adds what is new to it; when that contact is
      not the one ``typed`` names, the notice says so, with the way back.
    - Otherwise ``typed`` (the ``--contact`` of ``crm add lead``) picks an
      existing contact by id prefix or by its whole name, when exactly one
      has it; several are ambiguous (nothing is written: guessing would
      put the deal on the wrong person). A namesake that already has a
      different phone (e-mail) than the one given is taken for someone
      else: a new contact, and a notice with the merge command in case.
    - Otherwise a new contact is made.
    """
    session = work.session
    channels = validate_channels(data.phones, data.emails, crm.settings.phone_region)
    keyed = check_duplicates(session, "contact", OnDuplicate.MATCH, name=data.name, channels=channels)
    if keyed is not None:
        contact, _ = write_contact(crm, work, data, OnDuplicate.MATCH)
        notices: list[str] = []
        named = _named_contacts(session, typed) if typed else []
        if typed and contact.id not in [c.id for c in named] and fold(contact.name) != fold(typed):
            via = data.phones[0] if keyed.reason == "phone" and data.phones else (data.emails[0] if data.emails else "")
            notices.append(
                f"{via} is already {contact.name}'s ({short_id(contact.id)}), so the deal is linked to {contact.name} "
                f"rather than to «{typed}». Wrong person? Unlink them (crm deals unlink) and link the right contact."
            )
        return contact, notices
    named = _named_contacts(session, typed) if typed else []
    fitting = [c for c in named if not _contradicts(session, c, channels)]
    if len(fitting) > 1:
        raise AmbiguousError(
            f"{len(fitting)} contacts match {typed!r}; give --contact the id of the one you mean",
            [f"{short_id(c.id)}  {c.name}" for c in fitting[:6]],
        )
    if fitting:
        contact, _ = write_contact(crm, work, data, into=fitting[0])
        return contact, []
    contact, _ = write_contact(crm, work, data, OnDuplicate.CREATE)
    if named:  # namesakes: the same name, but already another phone / e-mail of the kind given
        other = named[0]
        return contact, [
            f"{other.name} ({short_id(other.id)}) has another {'phone' if channels.phones else 'e-mail'}, "
            "so a new contact was made. The same person after all? "
            f"crm contacts merge {short_id(other.id)} {short_id(contact.id)}"
        ]
    return contact, []


def _contradicts(session: Session, contact: Contact, channels: Channels) -> bool:
    """Whether ``channels`` say "someone else": the contact has phones (e-mails)
    and none of the given ones. A first phone or e-mail just enriches it."""
    have = channels_of(session, "contact", contact.id)
    for kind, given in (("phone", channels.phones), ("email", channels.emails)):
        mine = {c.normalized for c in have if c.kind == kind}
        if given and mine and not mine & {normalized for _, normalized in given}:
            return True
    return False


def _named_contacts(session: Session, typed: str) -> list[Contact]:
    """Live contacts ``typed`` names: by id prefix (4+ hex characters), else by whole folded name."""
    live = col(Contact.deleted_at).is_(None)
    ref = typed.strip().lower()
    if _ID_PREFIX.match(ref):
        by_id = list(session.exec(select(Contact).where(col(Contact.id).startswith(ref), live).limit(7)))
        if by_id:
            return by_id
    return list(session.exec(select(Contact).where(Contact.name_fold == fold(typed), live).limit(7)))


_ID_PREFIX = re.compile(r"^[0-9a-f]{4,32}$")


def add_contact(crm: Crm, data: ContactInput, policy: OnDuplicate = OnDuplicate.ERROR) -> ContactDetail:
    """Create a contact; a likely duplicate is refused (or enriched) per policy."""
    with crm.uow() as work:
        contact, _ = write_contact(crm, work, data, policy)
    return get_contact(crm, contact.id)


CONTACT_EDITABLE = ("name", "position", "department", "gender", "birthday", "company", "responsible")


def removal_targets(crm: Crm, remove: Removals | None, kinds: Sequence[str]) -> list[tuple[str, str]]:
    """``(kind, normalised value)`` for each value to remove, as a user typed it.

    A phone or e-mail is stored normalised (E.164, lower-case domain), so a
    removal typed as ``8 916 123-45-67`` is put through the same validation
    an added one goes through; otherwise it would match nothing. Done before
    the transaction, so a malformed value refuses the whole edit.
    """
    targets: list[tuple[str, str]] = []
    for kind, wanted in (remove or {}).items():
        if kind not in kinds:
            raise ValidationError(kind, f"cannot remove a {kind}; use {', '.join(kinds)}")
        for raw in [wanted] if isinstance(wanted, str) else wanted:
            if kind == "phone":
                normalized = normalize_phone(raw, crm.settings.phone_region)
            elif kind == "email":
                normalized = email_channel(raw)
            else:
                normalized = raw.strip()  # messengers are stored as typed, trimmed
            if (kind, normalized) not in targets:  # the same number typed twice, two ways
                targets.append((kind, normalized))
    return targets


def remove_channels(
    work: UnitOfWork, record: Contact | Company, remove: Removals | None, targets: list[tuple[str, str]] | None
) -> None:
    """Drop channels: ``targets`` (from ``removal_targets``) must each be on
    the record, else NotFoundError and the caller's transaction rolls back;
    ``remove`` values are taken as stored and a missing one is skipped (a
    card removes what it shows, so there is nothing to report)."""
    for kind, wanted in (remove or {}).items():
        for normalized in [wanted] if isinstance(wanted, str) else wanted:
            remove_channel(work, record, kind, normalized)
    entity = str(record.__tablename__)
    for kind, normalized in targets or []:
        if remove_channel(work, record, kind, normalized):
            continue
        have = [c.normalized for c in channels_of(work.session, entity, record.id) if c.kind == kind]
        # an e-mail keeps its local part as typed (``Ivan@``), but nobody means
        # a different mailbox by ``ivan@``: one match ignoring case is the one
        same = [h for h in have if kind == "email" and h.casefold() == normalized.casefold()]
        if len(same) == 1 and remove_channel(work, record, kind, same[0]):
            continue
        raise NotFoundError(f"{record.name} has no {kind} {normalized}; {kind}s: {', '.join(have) or 'none'}")


CONTACT_CHANNEL_KINDS = ("phone", "email", *MESSENGER_KINDS)


def edit_contact(
    crm: Crm,
    ref: str,
    values: dict[str, str],
    *,
    remove: Removals | None = None,
    remove_typed: Removals | None = None,
) -> ContactDetail:
    """Set fields from ``key=value`` pairs; phone/email values are added.

    ``remove`` maps a channel kind to the normalised value(s) to drop, as a
    card shows them; one the contact lacks is skipped. ``remove_typed`` is
    the same as a user typed it (the CLI): each value is normalised like an
    added one, and one the contact lacks is refused (NotFoundError) so a
    typo never looks like a successful removal.

    Every value is validated before anything is written.
    """
    targets = removal_targets(crm, remove_typed, CONTACT_CHANNEL_KINDS)
    with crm.uow() as work:
        session = work.session
        contact = resolve(session, Contact, ref)
        plain: dict[str, object] = {}
        phones: list[str] = []
        emails: list[str] = []
        custom: dict[str, str] = {}
        for key, raw in values.items():
            if key == "phone":
                phones.append(raw)
            elif key == "email":
                emails.append(raw)
            elif key == "name":
                if not raw.strip():
                    raise ValidationError("name", "a contact needs a name")
                plain["name"] = raw.strip()
                plain["name_fold"] = fold(raw)
            elif key == "gender":
                plain["gender"] = parse_gender(raw) if raw else None
            elif key == "birthday":
                plain["birthday"] = parse_birthday(raw, crm) if raw else None
            elif key in ("position", "department"):
                plain[key] = raw.strip() or None
            elif key == "responsible":
                plain["responsible_id"] = assignable_user(session, raw).id
            elif key == "company":
                plain["company_id"] = company_for(work, raw, contact.responsible_id).id if raw else None
            else:
                custom[key] = raw
        checked = _validate(crm, ContactInput(name=contact.name, phones=phones, emails=emails, custom=custom))
        remove_channels(work, contact, remove, targets)  # first: a removal is checked against the record as it was
        previous = contact.responsible_id
        work.update(contact, **plain)
        hand_over_open_tasks(work, contact, previous)
        attach_channels(work, contact, checked.channels)
        for key, value in checked.custom.items():
            set_custom_value(work, contact, key, value)
        reindex(session, "contact", contact.id)
        reindex_linked(session, "contact", contact.id)
    return get_contact(crm, contact.id)


def set_contact_tags(crm: Crm, ref: str, add: list[str], remove: list[str]) -> list[str]:
    """Add and remove a contact's tags in one logged change; returns the tags now on it.

    The same rules as a deal's tags (``records.change_tags``): case-insensitive,
    the first spelling of a tag is kept, nothing is logged when nothing changed.
    """
    with crm.uow() as work:
        contact = resolve(work.session, Contact, ref)
        return change_tags(work, contact, add=add, remove=remove)


def contact_detail(session: Session, contact: Contact) -> ContactDetail:
    users = user_names(session)
    channels = channels_of(session, "contact", contact.id)
    company = session.get(Company, contact.company_id) if contact.company_id else None
    deals = session.exec(
        select(Deal)
        .join(DealContact, col(DealContact.deal_id) == col(Deal.id))
        .where(DealContact.contact_id == contact.id, col(Deal.deleted_at).is_(None))
        .order_by(col(Deal.updated_at).desc())
    ).all()
    phones = [c.normalized for c in channels if c.kind == "phone"]
    emails = [c.normalized for c in channels if c.kind == "email"]
    have = {
        "name": contact.name,
        "email": emails,
        "phone": phones,
        "gender": contact.gender,
        "birthday": contact.birthday,
        "department": contact.department,
        "position": contact.position,
    }
    return ContactDetail(
        id=contact.id,
        name=contact.name,
        responsible=users.get(contact.responsible_id or ""),
        position=contact.position,
        department=contact.department,
        gender=contact.gender,
        birthday=contact.birthday.isoformat() if contact.birthday else None,
        company=LinkView(company.id, company.name, "company") if company else None,
        phones=phones,
        emails=emails,
        messengers=[ChannelView(c.kind, c.value, c.normalized) for c in channels if c.kind not in ("phone", "email")],
        deals=[LinkView(d.id, d.name, "deal") for d in deals],
        tags=tags_of(session, "contact", [contact.id]).get(contact.id, []),
        custom=custom_values(session, "contact", contact.id),
        missing_required=[k for k in REQUIRED_CONTACT_FIELDS if not have[k]],
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )


def get_contact(crm: Crm, ref: str) -> ContactDetail:
    with crm.read() as session:
        return contact_detail(session, resolve(session, Contact, ref))


def list_contacts(
    crm: Crm, *, query: str | None = None, responsible: str | None = None, limit: int = 100, offset: int = 0
) -> list[PartySummary]:
    with crm.read() as session:
        ids = search_ids(session, "contact", query, limit=limit + offset) if query else None
        responsible_id = find_user(session, responsible).id if responsible else None
        return list_parties(session, "contact", query_ids=ids, responsible_id=responsible_id, limit=limit, offset=offset)
