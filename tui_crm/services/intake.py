"""Where leads come from: web forms and mail to the corporate mailbox.

The manual: mail to the corporate mailbox lands in Неразобранное of
Продажи 2.0; requests from the sites land directly in Лид, with the site
(RU/COM) on the main tab, the territory it implies, the message and a link
to the source in the Marketing group, files in Files, and the contact
matched by phone or e-mail rather than duplicated.

- :func:`submit_form` takes a form submission (the JSON a site sends:
  ``name, phone, email, company, message, site, page_url, files[], utm{}``;
  other keys are kept) and makes a deal in Лид, or an Unsorted request when
  the team prefers to triage forms too (``form_target``).
- Most sites send forms as e-mails: mail from a configured form sender is
  parsed (``Key: value`` lines) into the same submission.
- :func:`process_pending_mail` files corporate mail from strangers, marked
  by the fetch, into Unsorted (or, for form e-mails, Лид).

The configuration lives in the store (``crm intake config``), so every
user of a shared database sees the same rules.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.matching import email_key
from tui_crm.services.context import Crm
from tui_crm.services.pipelines import find_pipeline
from tui_crm.services.unsorted import IncomingRequest, add_incoming, keep_utm, site_code, territory_for
from tui_crm.storage.mail_tables import Mailbox, MailMessage
from tui_crm.storage.models import Deal, DealContact, EntityFile
from tui_crm.storage.settings import get_setting, put_setting
from tui_crm.storage.unit_of_work import UnitOfWork

FORM_KEYS = ("name", "phone", "email", "company", "message", "site", "page_url", "files", "utm")
TARGETS = ("lead", "unsorted")
# How form e-mails label their fields (Russian and English), folded to a key.
_LABELS = {
    "name": "name", "имя": "name", "фио": "name", "контактное лицо": "name", "your name": "name",
    "phone": "phone", "телефон": "phone", "тел": "phone", "phone number": "phone",
    "email": "email", "e-mail": "email", "почта": "email", "эл. почта": "email", "электронная почта": "email",
    "company": "company", "компания": "company", "организация": "company",
    "message": "message", "сообщение": "message", "комментарий": "message", "comment": "message", "текст": "message",
    "site": "site", "сайт": "site",
    "page": "page_url", "page_url": "page_url", "url": "page_url", "страница": "page_url", "source": "page_url",
}
_LINE = re.compile(r"^\s*([^:\n]{1,40}?)\s*:\s*(.*)$")


@dataclass
class IntakeConfig:
    form_target: str = "lead"  # lead | unsorted
    form_pipeline: str | None = None  # default: the CRM's default pipeline (Продажи 2.0)
    mail_pipeline: str | None = None  # where corporate mail from strangers goes
    form_senders: list[str] = field(default_factory=list)  # addresses whose mail is a web form


@dataclass
class FormSubmission:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    message: str | None = None
    site: str | None = None
    page_url: str | None = None
    files: list[str] = field(default_factory=list)
    utm: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntakeResult:
    kind: str  # lead | unsorted
    id: str
    name: str
    pipeline: str
    stage: str
    contact: str | None = None
    site: str | None = None
    territory: str | None = None


_CONFIG_KEY = "intake.config"


def get_config(crm: Crm) -> IntakeConfig:
    with crm.read() as session:
        stored = get_setting(session, _CONFIG_KEY)
    if stored is None:
        return IntakeConfig()
    data = json.loads(stored)
    return IntakeConfig(**{k: v for k, v in data.items() if k in IntakeConfig.__dataclass_fields__})


def set_config(
    crm: Crm,
    *,
    form_target: str | None = None,
    form_pipeline: str | None = None,
    mail_pipeline: str | None = None,
    add_sender: list[str] | None = None,
    remove_sender: list[str] | None = None,
) -> IntakeConfig:
    config = get_config(crm)
    if form_target is not None:
        if form_target not in TARGETS:
            raise ValidationError("form-target", f"use {' or '.join(TARGETS)}")
        config.form_target = form_target
    if form_pipeline is not None:
        config.form_pipeline = find_pipeline(crm, form_pipeline).key
    if mail_pipeline is not None:
        config.mail_pipeline = find_pipeline(crm, mail_pipeline).key
    from tui_crm.domain.validation import normalize_email

    for sender in add_sender or []:
        address = normalize_email(sender)
        if address not in config.form_senders:
            config.form_senders.append(address)
    for sender in remove_sender or []:
        config.form_senders = [s for s in config.form_senders if email_key(s) != email_key(sender)]
    with crm.uow() as work:
        put_setting(work.session, _CONFIG_KEY, json.dumps(config.__dict__, ensure_ascii=False))
    return config


def parse_form_json(text: str) -> FormSubmission:
    """A submission from a form's JSON; unknown keys are kept in ``extra``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno}"
        raise ValidationError("form", f"not JSON ({where}); send one object with name, phone, email...") from None
    if not isinstance(data, dict):
        raise ValidationError("form", "the form must be one JSON object with name, phone, email, message...")
    return submission_from_dict(data)


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValidationError(key, f"{key} must be text, not {type(value).__name__}")
    return str(value).strip() or None


def submission_from_dict(data: dict[str, Any]) -> FormSubmission:
    files = data.get("files") or []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ValidationError("files", "files must be a list of file paths")
    utm = data.get("utm") or {}
    if not isinstance(utm, dict):
        raise ValidationError("utm", "utm must be an object, e.g. {\"source\": \"google\"}")
    extra = {k: v for k, v in data.items() if k not in FORM_KEYS}
    for key, value in list(extra.items()):  # utm_source=... at the top level is UTM too
        if key.startswith("utm_"):
            utm.setdefault(key[4:], value)
            del extra[key]
    return FormSubmission(
        name=_text(data.get("name"), "name"),
        phone=_text(data.get("phone"), "phone"),
        email=_text(data.get("email"), "email"),
        company=_text(data.get("company"), "company"),
        message=_text(data.get("message"), "message"),
        site=_text(data.get("site"), "site"),
        page_url=_text(data.get("page_url"), "page_url"),
        files=files,
        utm={str(k): str(v) for k, v in utm.items()},
        extra=extra,
    )


def parse_form_email(body: str) -> FormSubmission:
    """A submission from a form e-mail: ``Label: value`` lines; the message may run over several lines."""
    data: dict[str, Any] = {}
    current: str | None = None
    for line in body.splitlines():
        match = _LINE.match(line)
        label = match.group(1).strip().casefold() if match else None
        if match and label is not None and (label in _LABELS or label.startswith("utm")):
            key = _LABELS.get(label) or label.replace(" ", "_")
            data[key] = match.group(2).strip()
            current = key
        elif current == "message" and line.strip():
            data["message"] = f"{data['message']}\n{line.strip()}".strip()
    if not any(data.get(k) for k in ("name", "phone", "email", "message")):
        raise ValidationError("form", "the e-mail has no form fields (Имя:, Телефон:, Email:, Сообщение: ...)")
    return submission_from_dict(data)


def _deal_name(form: FormSubmission) -> str:
    who = form.company or form.name or form.email or form.phone or "заявка"
    return f"Заявка с сайта: {who}"


def _extra_note(form: FormSubmission) -> str | None:
    parts = [f"utm_{k}: {v}" for k, v in form.utm.items()]
    parts += [f"{k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}" for k, v in form.extra.items()]
    return "Поля формы:\n" + "\n".join(parts) if parts else None


def submit_form(
    crm: Crm,
    form: FormSubmission,
    *,
    target: str | None = None,
    pipeline: str | None = None,
    base_dir: Path | None = None,
    attachments: list[Path] | None = None,
    mail_message_id: str | None = None,
) -> IntakeResult:
    """A web-form request into Лид (default) or Unsorted; nothing is saved when a value is bad."""
    config = get_config(crm)
    target = target or config.form_target
    if target not in TARGETS:
        raise ValidationError("target", f"use {' or '.join(TARGETS)}")
    if not (form.name or form.email or form.phone or form.message):
        raise ValidationError("form", "the form has no name, e-mail, phone or message")
    site = site_code(form.site or form.page_url)
    territory = territory_for(site, None)
    files = [Path(f) if base_dir is None or Path(f).is_absolute() else base_dir / f for f in form.files]
    for path in files:
        if not path.is_file():
            raise ValidationError("files", f"no file {path}; nothing was saved")
    files += attachments or []
    pipeline_key = pipeline or config.form_pipeline
    if target == "unsorted":
        extra = dict(form.extra)
        if form.utm:
            extra["utm"] = form.utm
        if form.company:
            extra["company"] = form.company
        view = add_incoming(
            crm,
            IncomingRequest(
                pipeline=pipeline_key,
                source="form",
                sender_name=form.name,
                sender_email=form.email,
                sender_phone=form.phone,
                subject=_deal_name(form),
                body=form.message,
                site=site,
                url=form.page_url,
                territory=territory,
                files=files,
                extra=extra,
                mail_message_id=mail_message_id,
            ),
            also=_filed(mail_message_id, "unsorted") if mail_message_id else None,
        )
        return IntakeResult("unsorted", view.id, view.subject or "", view.pipeline, "Неразобранное", form.name, site, territory)
    return _form_lead(crm, form, pipeline_key, site, territory, files, mail_message_id)


def _form_lead(
    crm: Crm,
    form: FormSubmission,
    pipeline_key: str | None,
    site: str | None,
    territory: str | None,
    files: list[Path],
    mail_message_id: str | None,
) -> IntakeResult:
    from tui_crm.services import deals
    from tui_crm.services.files import keep_file

    values: dict[str, str] = {}
    if site:
        values["source_site"] = site
    if form.page_url:
        values["source_url"] = form.page_url
    if form.message:
        values["source_message"] = form.message
    if territory and "territory" in crm.pipelines.fields:
        values["territory"] = territory
    stored = [(keep_file(crm, path), path.name) for path in files]  # blobs first; linked in the deal's commit

    def also(work: UnitOfWork, deal: Deal) -> None:
        keep_utm(work, deal.id, form.utm)
        for sha, name in stored:
            work.create(EntityFile(entity_type="deal", entity_id=deal.id, sha256=sha, name=name))
        if mail_message_id:
            _filed(mail_message_id, "lead")(work, deal)

    deal = deals.capture_lead(
        crm,
        deals.LeadInput(
            name=_deal_name(form),
            phone=form.phone,
            email=form.email,
            contact_name=form.name,
            company=form.company,
            pipeline=pipeline_key,
            source="form",
            note=_extra_note(form),
            values=values,
        ),
        also=also,
    )
    main = next((c.name for c in deal.contacts if c.is_main), None)
    return IntakeResult("lead", deal.id, deal.name, deal.pipeline, deal.stage, main, site, territory)


def process_pending_mail(crm: Crm, limit: int = 500) -> dict[str, int]:
    """File corporate mail from strangers (marked by the fetch) into Unsorted or Лид."""
    config = get_config(crm)
    senders = {email_key(s) for s in config.form_senders}
    made: dict[str, int] = {}
    with crm.read() as session:
        pending = list(
            session.exec(
                select(MailMessage, Mailbox.pipeline_key)
                .join(Mailbox, col(Mailbox.id) == col(MailMessage.mailbox_id))
                .where(MailMessage.intake == "pending")
                .order_by(col(MailMessage.sent_at))
                .limit(limit)
            )
        )
    for message, mailbox_pipeline in pending:
        kind = "none"
        try:
            if email_key(message.from_addr) in senders:
                kind = _file_form_mail(crm, message, config)
            else:
                kind = _file_stranger_mail(crm, message, mailbox_pipeline or config.mail_pipeline)
        except AlreadyFiled:
            continue  # another process (the app's worker, a `crm mail fetch`) filed it first
        except ValidationError as exc:
            import logging

            logging.getLogger("tui_crm.mail").warning("intake of message %s failed: %s", message.id[:8], exc)
            _mark(crm, message.id, "failed")
            continue
        made[kind] = made.get(kind, 0) + 1
    return made


class AlreadyFiled(Exception):
    """The e-mail is no longer pending: what this process made for it is rolled back."""


def _filed(message_id: str, state: str) -> Callable[[UnitOfWork, Any], None]:
    """Mark the e-mail filed in the transaction that makes its lead or request, and put it on that record.

    One commit for both: a crash before it leaves the e-mail pending and
    nothing made; after it, the e-mail is filed and is never filed again.
    An e-mail that is not pending any more (filed meanwhile by another
    process) raises :class:`AlreadyFiled`, which rolls the new record back.
    """

    def mark(work: UnitOfWork, record: Any) -> None:
        from tui_crm.services.mail_fetch import link_in

        session = work.session
        row = session.get(MailMessage, message_id)
        if row is None or row.intake != "pending":
            raise AlreadyFiled(message_id)
        row.intake = state
        session.add(row)
        if state == "unsorted":
            link_in(session, message_id, "unsorted", record.id)
            return
        link_in(session, message_id, "deal", record.id)
        for link in session.exec(select(DealContact).where(DealContact.deal_id == record.id)):
            link_in(session, message_id, "contact", link.contact_id)

    return mark


def _mark(crm: Crm, message_id: str, state: str) -> None:
    with crm.uow() as work:
        row = work.session.get(MailMessage, message_id)
        if row is not None and row.intake == "pending":
            row.intake = state
            work.session.add(row)


def _attachments_of(crm: Crm, message: MailMessage, folder: Path) -> list[Path]:
    if not message.raw_sha256:
        return []
    from tui_crm.mail.parse import attachment_bytes
    from tui_crm.services.mail_fetch import read_blob

    raw = read_blob(crm, message.raw_sha256)
    paths = []
    for item in json.loads(message.attachments_json):
        name, data = attachment_bytes(raw, item["index"])
        safe = Path(name).name.replace("/", "_") or f"attachment-{item['index']}"
        path = folder / f"{item['index']}" / safe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def _file_form_mail(crm: Crm, message: MailMessage, config: IntakeConfig) -> str:
    form = parse_form_email(message.body)
    with tempfile.TemporaryDirectory(prefix="crm-intake-") as tmp:
        attachments = _attachments_of(crm, message, Path(tmp))
        result = submit_form(crm, form, attachments=attachments, mail_message_id=message.id)
    return result.kind


def _file_stranger_mail(crm: Crm, message: MailMessage, pipeline: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="crm-intake-") as tmp:
        attachments = _attachments_of(crm, message, Path(tmp))
        add_incoming(
            crm,
            IncomingRequest(
                pipeline=pipeline,
                source="mail",
                sender_name=message.from_name or None,
                sender_email=_valid_email(message.from_addr),
                subject=message.subject or "(без темы)",
                body=message.body,
                files=attachments,
                mail_message_id=message.id,
            ),
            also=_filed(message.id, "unsorted"),
        )
    return "unsorted"


def _valid_email(address: str) -> str | None:
    from tui_crm.domain.validation import normalize_email

    try:
        return normalize_email(address)
    except ValidationError:
        return None
