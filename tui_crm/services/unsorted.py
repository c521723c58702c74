"""Unsorted (Неразобранное): incoming requests waiting for daily triage.

Accept turns an entry into a deal at the pipeline's lead stage with its
contact matched by email/phone or created; decline keeps it, with a reason,
out of the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.validation import normalize_email, normalize_phone, normalize_url
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.pipelines import find_pipeline
from tui_crm.services.records import resolve, set_custom_value
from tui_crm.services.views import DealDetail, UnsortedView
from tui_crm.storage.models import Deal, DealContact, EntityFile, Note, Pipeline, UnsortedEntry
from tui_crm.storage.unit_of_work import UnitOfWork

# The site a request came from decides the territory (the manual: RU site → РФ, COM site → Запад).
TERRITORY_OF_SITE = {"RU": "РФ", "COM": "Запад"}
TERRITORIES = ("РФ", "Запад")


@dataclass
class IncomingRequest:
    pipeline: str | None = None
    source: str = "form"
    sender_name: str | None = None
    sender_email: str | None = None
    sender_phone: str | None = None
    subject: str | None = None
    body: str | None = None
    site: str | None = None  # RU | COM (or a site's address: omega-r.ru)
    url: str | None = None  # the page the request was sent from
    territory: str | None = None  # РФ | Запад; default from the site
    files: list[Path] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # the form's other keys (UTM, unknown fields)
    mail_message_id: str | None = None


def site_code(value: str | None) -> str | None:
    """``RU`` or ``COM`` from what a form or a user gives: a code, a domain or an address."""
    if not value or not value.strip():
        return None
    from tui_crm.services.deal_values import SOURCE_SITES

    text = value.strip().lower()
    if text in SOURCE_SITES:
        return SOURCE_SITES[text]
    from urllib.parse import urlsplit

    host = urlsplit(text if "//" in text else f"//{text}").hostname or text
    tld = host.rstrip(".").rpartition(".")[2]
    if tld in ("ru", "рф", "su"):
        return "RU"
    if tld:
        return "COM"
    raise ValidationError("site", f"{value!r} is not a site; use RU or COM (or the site's address)")


def territory_for(site: str | None, territory: str | None) -> str | None:
    if territory:
        wanted = territory.strip().casefold()
        for known in TERRITORIES:
            if known.casefold() == wanted or (wanted in ("rf", "ru", "russia") and known == "РФ") or (
                wanted in ("west", "com") and known == "Запад"
            ):
                return known
        raise ValidationError("territory", f"{territory!r}: use one of {', '.join(TERRITORIES)}")
    return TERRITORY_OF_SITE.get(site or "")


def add_incoming(
    crm: Crm, request: IncomingRequest, also: Callable[[UnitOfWork, UnsortedEntry], None] | None = None
) -> UnsortedView:
    """File a request into a pipeline's Unsorted (mail intake, web forms).

    ``also`` runs in the same transaction (mail intake marks its message
    filed there, so a crash cannot file it twice or lose it).
    """
    pipeline = find_pipeline(crm, request.pipeline)
    email = normalize_email(request.sender_email) if request.sender_email else None
    phone = normalize_phone(request.sender_phone, crm.settings.phone_region) if request.sender_phone else None
    if not (request.subject or request.body or request.sender_name):
        raise ValidationError("request", "an incoming request needs a subject, body or sender")
    site = site_code(request.site)
    territory = territory_for(site, request.territory)
    url = normalize_url(request.url) if request.url else None
    for path in request.files:
        if not path.is_file():
            raise ValidationError("file", f"no file {path}; nothing was filed")
    from tui_crm.services.files import keep_file

    stored = [(keep_file(crm, path), path.name) for path in request.files]
    with crm.uow() as work:
        entry = UnsortedEntry(
            pipeline_id=pipeline.id,
            source=request.source,
            sender_name=request.sender_name,
            sender_email=email,
            sender_phone=phone,
            subject=request.subject,
            body=request.body,
            received_at=work.now,
            source_site=site,
            source_url=url,
            territory=territory,
            extra_json=json.dumps(request.extra, ensure_ascii=False) if request.extra else None,
            mail_message_id=request.mail_message_id,
        )
        work.create(entry)
        work.session.flush()
        for sha, name in stored:
            work.create(EntityFile(entity_type="unsorted", entity_id=entry.id, sha256=sha, name=name))
        if also is not None:
            also(work, entry)
    return _view(entry, pipeline.name)


def _view(entry: UnsortedEntry, pipeline_name: str) -> UnsortedView:
    return UnsortedView(
        entry.id,
        pipeline_name,
        entry.source,
        entry.sender_name,
        entry.sender_email,
        entry.sender_phone,
        entry.subject,
        entry.body,
        entry.received_at,
        entry.status,
        entry.decline_reason,
        entry.deal_id,
        entry.source_site,
        entry.source_url,
        entry.territory,
        json.loads(entry.extra_json) if entry.extra_json else {},
    )


def _unsorted_where(crm: Crm, pipeline: str | None, status: str) -> list[Any]:
    conditions: list[Any] = [col(UnsortedEntry.deleted_at).is_(None)]
    if pipeline:
        conditions.append(UnsortedEntry.pipeline_id == find_pipeline(crm, pipeline).id)
    if status != "all":
        conditions.append(UnsortedEntry.status == status)
    return conditions


def list_unsorted(crm: Crm, pipeline: str | None = None, status: str = "new", limit: int = 200) -> list[UnsortedView]:
    with crm.read() as session:
        stmt = select(UnsortedEntry, Pipeline.name).join(Pipeline, col(Pipeline.id) == col(UnsortedEntry.pipeline_id))
        stmt = stmt.where(*_unsorted_where(crm, pipeline, status))
        rows = session.exec(stmt.order_by(col(UnsortedEntry.received_at).desc()).limit(limit)).all()
        return [_view(entry, name) for entry, name in rows]


def count_unsorted(crm: Crm, pipeline: str | None = None) -> int:
    """New requests waiting in the inbox: counted in SQL, not capped at a page."""
    with crm.read() as session:
        stmt = select(func.count()).select_from(UnsortedEntry).where(*_unsorted_where(crm, pipeline, "new"))
        return int(session.exec(stmt).one())


def keep_utm(work: UnitOfWork, deal_id: str, utm: Any) -> None:
    """A web form's UTM tags on its deal as ``mkt:utm_<tag>`` custom values (sync sends them to
    amoCRM's tracking fields UTM_SOURCE, ...; ``tui_crm.sync.amocrm.marketing``)."""
    deal = work.session.get(Deal, deal_id)
    if deal is None or not isinstance(utm, dict):
        return
    for key, value in utm.items():
        tag = str(key).strip().lower().removeprefix("utm_")
        if tag and value not in (None, ""):
            set_custom_value(work, deal, f"mkt:utm_{tag}", str(value))


def accept(crm: Crm, ref: str, deal_name: str | None = None) -> DealDetail:
    """Make the request a deal at stage Lead; the original text goes to Marketing."""
    with crm.read() as session:
        entry = resolve(session, UnsortedEntry, ref)
        pipeline = session.get(Pipeline, entry.pipeline_id)
        assert pipeline is not None
    if entry.status != "new":
        raise ValidationError("unsorted", f"this request was already {entry.status}")
    name = deal_name or entry.subject or entry.sender_name or entry.sender_email or "Новый лид"
    values = {"source_message": entry.body or ""} if entry.body else {}
    if entry.source_site:
        values["source_site"] = entry.source_site
    if entry.source_url:
        values["source_url"] = entry.source_url
    if entry.territory and "territory" in crm.pipelines.fields:
        values["territory"] = entry.territory
    company_id = _company_of_domain(crm, entry.sender_email) if entry.sender_email else None
    return capture_lead(
        crm,
        LeadInput(
            name=name,
            email=entry.sender_email,
            phone=entry.sender_phone,
            contact_name=entry.sender_name or entry.sender_email,
            link_named_contact=False,  # a sender's name is not the user's pick: match by e-mail/phone only
            company=company_id,
            pipeline=pipeline.key,
            source=entry.source,
            values=values,
        ),
        also=lambda work, deal: _accepted(work, entry.id, deal),  # the detail read after it lists the files
    )


def _accepted(work: UnitOfWork, entry_id: str, deal: Deal) -> None:
    """In the deal's own transaction: the request accepted, its files and e-mail on the deal.

    One commit with the deal, so a crash cannot leave a deal whose request
    is still «new» (and would be accepted twice); a request another process
    accepted meanwhile refuses, and the deal is rolled back.
    """
    session = work.session
    fresh = session.get(UnsortedEntry, entry_id)
    if fresh is None or fresh.status != "new":
        raise ValidationError("unsorted", f"this request was already {fresh.status if fresh else 'removed'}")
    work.update(fresh, status="accepted", deal_id=deal.id)
    keep_utm(work, deal.id, (json.loads(fresh.extra_json) if fresh.extra_json else {}).get("utm"))
    files = session.exec(select(EntityFile).where(EntityFile.entity_type == "unsorted", EntityFile.entity_id == entry_id))
    for item in list(files):
        work.create(EntityFile(entity_type="deal", entity_id=deal.id, sha256=item.sha256, name=item.name))
    if fresh.mail_message_id:
        from tui_crm.services.mail_fetch import link_in

        link_in(session, fresh.mail_message_id, "deal", deal.id)
        for link in session.exec(select(DealContact).where(DealContact.deal_id == deal.id)):
            link_in(session, fresh.mail_message_id, "contact", link.contact_id)


# Addresses at these domains say nothing about the sender's company.
FREE_MAIL = frozenset(
    "gmail.com googlemail.com yahoo.com outlook.com hotmail.com live.com icloud.com me.com aol.com proton.me protonmail.com "
    "mail.ru list.ru bk.ru inbox.ru yandex.ru ya.ru yandex.com rambler.ru gmx.de gmx.net web.de".split()
)


def _company_of_domain(crm: Crm, email: str) -> str | None:
    """The one company known by the sender's domain (its web site, its e-mail, its contacts' e-mail), if any."""
    from tui_crm.storage.models import Channel, Company, Contact

    domain = email.rpartition("@")[2].strip().lower()
    if not domain or domain in FREE_MAIL:
        return None
    found: set[str] = set()
    with crm.read() as session:
        live = col(Company.deleted_at).is_(None)
        for web, company_id in session.exec(select(Company.web, Company.id).where(live, col(Company.web).is_not(None))):
            host = (web or "").lower().split("//")[-1].split("/")[0].removeprefix("www.")
            if host == domain:
                found.add(company_id)
        by_mail = func.lower(Channel.normalized).like(f"%@{domain}")
        companies = select(Channel.entity_id).where(Channel.entity_type == "company", Channel.kind == "email", by_mail)
        found.update(session.exec(companies))
        stmt = (
            select(Contact.company_id)
            .join(Channel, col(Channel.entity_id) == col(Contact.id))
            .where(Channel.entity_type == "contact", Channel.kind == "email", by_mail)
            .where(col(Contact.company_id).is_not(None), col(Contact.deleted_at).is_(None))
        )
        found.update(c for c in session.exec(stmt) if c)
        alive = [c for c in found if (row := session.get(Company, c)) is not None and row.deleted_at is None]
    return alive[0] if len(alive) == 1 else None


def decline(crm: Crm, ref: str, reason: str) -> UnsortedView:
    if not reason.strip():
        raise ValidationError("reason", "say why the request is declined (spam, not our profile, ...)")
    with crm.uow() as work:
        entry = resolve(work.session, UnsortedEntry, ref)
        if entry.status != "new":
            raise ValidationError("unsorted", f"this request was already {entry.status}")
        work.update(entry, status="declined", decline_reason=reason.strip())
        pipeline = work.session.get(Pipeline, entry.pipeline_id)
        work.create(Note(entity_type="unsorted", entity_id=entry.id, text=reason.strip(), kind="system", author_id=crm.user_id))
    return _view(entry, pipeline.name if pipeline else "")
