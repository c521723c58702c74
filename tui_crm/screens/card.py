"""The card of a deal, contact or company: fields, links, timeline, activity.

``CardScreen(entity_type, entity_id)`` shows the record's fields grouped as
in the manual (Main, Marketing, custom fields from the pipelines TOML with
their labels), the records it links to (enter opens their card), a deal's
files, a contact's or company's completeness mark, and the timeline from
``services.notes.timeline`` (pinned notes first, then newest first).

Everything is edited in place (``e`` on a field) and saved through the
record's edit service; a refused value is shown under the field and nothing
is saved. Each phone, e-mail and deal contact is a row of its own: ``e``
there adds another one, ``delete``/``x`` removes that one after a yes/no
question. Tags (deals, contacts, companies) are edited as one
comma-separated list: what is added or left out is added or removed. A
deal links an existing contact with ``+`` (search by name, phone or
e-mail); unlinking its main contact makes the next one main.

A deal's stage changes through its gate (the stage field, or ``]``/``[``
for the next or previous stage), by the one flow of ``widgets.gate_move``:
a refusal opens the gate form with exactly the missing fields and retries
the move. The activity bar
adds notes, tasks and call logs, pins notes, copies a deal, and starts a new
deal or contact from a contact or company.

All database work runs in thread workers that answer with messages; the
screen re-reads the record whenever it becomes active again (after a dialog
or a linked card closes), so it never shows stale data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui_crm.domain.errors import CrmError, GateRefused
from tui_crm.domain.fields import FieldDef, FieldType, format_value
from tui_crm.domain.text import fold
from tui_crm.domain.validation import format_phone
from tui_crm.services.companies import COMPANY_TYPES, TERRITORIES, edit_company, get_company, set_company_tags
from tui_crm.services.contacts import edit_contact, get_contact, set_contact_tags
from tui_crm.services.context import Crm
from tui_crm.services.deal_contacts import unlink_contact
from tui_crm.services.deals import edit_deal, get_deal, link_contact, set_deal_tags
from tui_crm.services.mail_messages import with_mail
from tui_crm.services.notes import set_pinned, timeline
from tui_crm.services.users import list_users
from tui_crm.services.views import CompanyDetail, ContactDetail, DealDetail, LinkView, TimelineItem
from tui_crm.widgets.activity_bar import ActivityBar, call_dialog, note_dialog
from tui_crm.widgets.app_contract import ReportsFailedWorkers, host_of
from tui_crm.widgets.contact_picker import ContactPicker
from tui_crm.widgets.deal_dialogs import copy_deal_dialog, new_deal_dialog
from tui_crm.widgets.duplicate_prompt import PartyForm
from tui_crm.widgets.field_editor import FieldRow, FieldSpec, GroupTitle
from tui_crm.widgets.form_dialog import ConfirmDialog
from tui_crm.widgets.gate_move import GateMove, MoveRequest, moved_note
from tui_crm.widgets.plain_text import EMPTY, clean, crm_of, error_message, money, plain, when
from tui_crm.widgets.task_dialogs import add_task_dialog
from tui_crm.widgets.timeline_view import PINNABLE, TimelineView

Detail = DealDetail | ContactDetail | CompanyDetail

ENTITY_TITLES = {"deal": "Deal", "contact": "Contact", "company": "Company"}
CONTACT_LABELS = {
    "name": "Name", "email": "E-mail", "phone": "Phone", "gender": "Gender", "birthday": "Birthday",
    "department": "Department", "position": "Position",
}
COMPANY_LABELS = {
    "name": "Name", "inn": "INN", "company_type": "Type", "turnover": "Turnover", "web": "Web site",
    "industry": "Industry", "employees": "Employees", "needs": "Identified needs", "territory": "Territory",
}
GENDER_OPTIONS = (("male", "male"), ("female", "female"))
SITE_OPTIONS = (("RU", "RU"), ("COM", "COM"))
YES_NO = (("yes", "yes"), ("no", "no"))

Group = tuple[str, list[FieldSpec]]


# -- what a card shows ---------------------------------------------------------------


def _spec(key: str, label: str, value: object, *, edit: str | None = None, **extra: Any) -> FieldSpec:
    """A field row: ``value`` displayed safely, ``edit`` (default: the value) in the editor."""
    shown = value if isinstance(value, Text) else plain(value)
    edit_value = edit if edit is not None else ("" if value is None else str(value))
    return FieldSpec(key, label, shown, edit_value=edit_value, **extra)


def _money_spec(key: str, label: str, amount: Decimal | None, currency: str) -> FieldSpec:
    """Shown and edited as ``1 500 000 ₽``/``$20,000``: the parser reads its own format back."""
    return _spec(key, label, money(amount, currency), edit="" if amount is None else money(amount, currency))


def _links(label: str, links: Iterable[LinkView], empty: str = EMPTY, *, removable: bool = False) -> list[FieldSpec]:
    """One row per linked record (enter opens it); ``removable``: delete unlinks it."""
    rows: list[FieldSpec] = []
    for i, link in enumerate(links):
        shown = plain(link.name, one_line=True)
        if link.is_main:
            shown.append("  main", style="dim")
        rows.append(FieldSpec("", label if i == 0 else "", shown, link=link,
                              removable=(link.entity_type, link.id) if removable else None))
    return rows or [FieldSpec("", label, plain(empty))]


def _channels(kind: str, label: str, values: list[str], hint: str) -> list[FieldSpec]:
    """One row per phone or e-mail, so one can be removed; ``e`` on any adds one."""
    shown = [format_phone(v) if kind == "phone" else v for v in values]
    rows = [
        FieldSpec(kind, label if i == 0 else "", plain(text, one_line=True), hint=hint, removable=(kind, value))
        for i, (text, value) in enumerate(zip(shown, values, strict=True))
    ]
    return rows or [FieldSpec(kind, label, plain(EMPTY), hint=hint)]


def _tags_spec(tags: list[str]) -> FieldSpec:
    return _spec("tags", "Tags", tags, edit=", ".join(tags), hint="comma-separated tags; leave one out to remove it")


def _custom_edit_value(defn: FieldDef, value: object) -> str:
    """A stored custom value in the form its validator reads back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _custom_fields(defs: dict[str, FieldDef], values: dict[str, Any]) -> list[FieldSpec]:
    rows: list[FieldSpec] = []
    for key, defn in defs.items():
        value = values.get(key)
        options: tuple[tuple[str, str], ...] = ()
        if defn.type is FieldType.SELECT:
            options = tuple((o, o) for o in defn.options)
        elif defn.type is FieldType.BOOL:
            options = YES_NO
        hint = "comma-separated: " + ", ".join(defn.options) if defn.type is FieldType.MULTISELECT else ""
        rows.append(
            FieldSpec(key, defn.label, plain(format_value(defn, value)), edit_value=_custom_edit_value(defn, value),
                      options=options, hint=hint)
        )
    return rows


def deal_groups(crm: Crm, deal: DealDetail, users: list[tuple[str, str]]) -> list[Group]:
    pipeline = crm.pipelines.pipeline(deal.pipeline_key)
    main = [
        _spec("name", "Name", deal.name),
        _spec("responsible", "Responsible", deal.responsible, options=users),
        _money_spec("budget_rub", "Budget (RUB)", deal.budget_rub, "RUB"),
        _money_spec("budget_usd", "Budget ($)", deal.budget_usd, "USD"),
        _spec("stage", "Stage", deal.stage, edit=deal.stage_key, options=[(s.name, s.key) for s in pipeline.stages]),
        FieldSpec("", "Pipeline", plain(deal.pipeline)),
        _spec("company", "Company", deal.company.name if deal.company else None, link=deal.company),
        *_links("Contacts", deal.contacts, "none yet — + links one", removable=True),
        _tags_spec(deal.tags),
    ]
    marketing = [
        _spec("source_channel", "Source channel", deal.source_channel),
        _spec("source_site", "Site", deal.source_site, options=SITE_OPTIONS),
        _spec("source_message", "Original message", deal.source_message),
        _spec("source_url", "Source URL", deal.source_url),
    ]
    closing = [
        _spec("loss_reason", "Loss reason", deal.loss_reason, hint=_reasons_hint(crm)),
        *([FieldSpec("", "Closing rate", plain(f"{deal.closing_rate} ₽/$ · Bank of Russia, {deal.closing_rate_date:%d.%m.%Y}"))]
          if deal.closing_rate is not None and deal.closing_rate_date is not None else []),
        FieldSpec("", "Created", plain(when(deal.created_at, crm))),
        FieldSpec("", "Updated", plain(when(deal.updated_at, crm))),
        FieldSpec("", "Closed", plain(when(deal.closed_at, crm))),
    ]
    files = [FieldSpec("", "File" if i == 0 else "", plain(name, one_line=True)) for i, name in enumerate(deal.files)]
    groups: list[Group] = [("Main", main), ("Marketing", marketing)]
    if crm.pipelines.fields:
        groups.append(("Custom fields", _custom_fields(dict(crm.pipelines.fields), deal.custom)))
    groups += [("Closing", closing), ("Files", files or [FieldSpec("", "Files", plain(EMPTY))])]
    return groups


def _reasons_hint(crm: Crm) -> str:
    """The pipelines file's loss reasons, as the editor's hint (the service checks the choice)."""
    reasons = crm.pipelines.loss_reasons
    if reasons is None:
        return ""
    other = crm.pipelines.loss_other
    listed = ", ".join(o for o in reasons.options if o != other)
    return f"{listed}" + (f", or {other}: your words" if other else "")


def contact_groups(crm: Crm, contact: ContactDetail, users: list[tuple[str, str]]) -> list[Group]:
    main = [
        _spec("name", "Name", contact.name),
        _spec("responsible", "Responsible", contact.responsible, options=users),
        _spec("company", "Company", contact.company.name if contact.company else None, link=contact.company),
        _spec("position", "Position", contact.position),
        _spec("department", "Department", contact.department),
        *_channels("phone", "Phones", contact.phones, "add a phone: +7 916 123-45-67"),
        *_channels("email", "E-mails", contact.emails, "add an e-mail"),
        _spec("gender", "Gender", contact.gender, options=GENDER_OPTIONS),
        _spec("birthday", "Birthday", contact.birthday, hint="1990-05-17 or 17.05.1990"),
        _tags_spec(contact.tags),
    ]
    messengers = [FieldSpec("", m.kind, plain(m.value, one_line=True)) for m in contact.messengers]
    groups: list[Group] = [("Main", main)]
    if messengers:
        groups.append(("Messengers", messengers))
    if crm.pipelines.contact_fields:
        groups.append(("Custom fields", _custom_fields(dict(crm.pipelines.contact_fields), contact.custom)))
    groups.append(("Deals", _links("Deals", contact.deals, "none yet — l starts one")))
    return groups


def company_groups(crm: Crm, company: CompanyDetail, users: list[tuple[str, str]]) -> list[Group]:
    main = [
        _spec("name", "Name (brand)", company.name),
        _spec("responsible", "Responsible", company.responsible, options=users),
        _spec("inn", "INN", company.inn, hint="10 or 12 digits"),
        _spec("company_type", "Type", company.company_type, options=[(t, t) for t in COMPANY_TYPES]),
        _spec("territory", "Territory", company.territory, options=[(t, t) for t in TERRITORIES]),
        _spec("web", "Web site", company.web),
        _spec("address", "Address", company.address),
        *_channels("phone", "Phones", company.phones, "add a phone"),
        *_channels("email", "E-mails", company.emails, "add an e-mail"),
        _tags_spec(company.tags),
    ]
    business = [
        _spec("turnover", "Turnover", company.turnover),
        _spec("industry", "Industry", company.industry),
        _spec("employees", "Employees", company.employees),
        _spec("needs", "Identified needs", company.needs),
    ]
    groups: list[Group] = [("Main", main), ("Business", business)]
    if crm.pipelines.company_fields:
        groups.append(("Custom fields", _custom_fields(dict(crm.pipelines.company_fields), company.custom)))
    groups.append(("Contacts", _links("Contacts", company.contacts, "none yet — a adds one")))
    groups.append(("Deals", _links("Deals", company.deals, "none yet — l starts one")))
    return groups


def completeness(detail: Detail) -> Text:
    """The manual's "required" fields of a contact/company: a mark, not a block."""
    if isinstance(detail, DealDetail):
        return Text("")
    labels = CONTACT_LABELS if isinstance(detail, ContactDetail) else COMPANY_LABELS
    if not detail.missing_required:
        return Text("✓ complete", style="green")
    missing = ", ".join(labels.get(k, k) for k in detail.missing_required)
    return Text(f"✗ incomplete: {missing}", style="yellow")


def subtitle(detail: Detail) -> Text:
    line = Text()
    if isinstance(detail, DealDetail):
        line.append(clean(f"{detail.pipeline} › {detail.stage}", one_line=True), style="bold")
        line.append(f"  ·  {money(detail.budget_rub)}")
        if detail.budget_usd is not None:
            line.append(f"  ·  {money(detail.budget_usd, 'USD')}")
        line.append(f"  ·  {clean(detail.responsible, one_line=True)}")
        return line
    line.append(clean(detail.responsible, one_line=True))
    line.append("  ·  ")
    line.append_text(completeness(detail))
    return line


def _tag_list(raw: str) -> list[str]:
    return [t.strip().lstrip("#") for t in raw.split(",") if t.strip().lstrip("#")]


def tag_changes(current: list[str], raw: str) -> tuple[list[str], list[str]]:
    """The edited comma list against the tags now: (to add, to remove), case-insensitively."""
    wanted = _tag_list(raw)
    have = {fold(t) for t in current}
    keep = {fold(t) for t in wanted}
    return [t for t in wanted if fold(t) not in have], [t for t in current if fold(t) not in keep]


REMOVE_NOUNS = {"phone": "phone", "email": "e-mail", "contact": "contact"}


# -- the screen ----------------------------------------------------------------------------


@dataclass
class CardData:
    detail: Detail
    items: list[TimelineItem]
    users: list[tuple[str, str]]


class CardScreen(ReportsFailedWorkers, Screen[None]):
    """A deal, contact or company card; see the module docstring."""

    CSS_PATH = "card.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="card.back"),
        Binding("left_square_bracket", "move(-1)", "Prev stage", key_display="[", show=False, id="card.move_prev"),
        Binding("right_square_bracket", "move(1)", "Next stage", key_display="]", show=False, id="card.move_next"),
        # the activity bar shows these, so the footer keeps to navigation
        Binding("n", "note", "Add note", show=False, id="card.note"),
        Binding("t", "task", "Add task", show=False, id="card.task"),
        Binding("c", "call", "Log a call", show=False, id="card.call"),
        Binding("p", "pin", "Pin/unpin note", show=False, id="card.pin"),
        Binding("y", "copy_deal", "Copy deal", show=False, id="card.copy_deal"),
        Binding("l", "new_deal", "New deal", show=False, id="card.new_deal"),
        Binding("a", "new_contact", "New contact", show=False, id="card.new_contact"),
        Binding("plus", "link_contact", "Link contact", show=False, key_display="+", id="card.link_contact"),
        Binding("right", "focus_timeline", "Timeline", show=False, id="card.timeline"),
        Binding("left", "focus_fields", "Fields", show=False, id="card.fields"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="card.reload"),
        Binding("m", "mail", "Write e-mail (reply on a mail entry)", show=False, id="card.mail"),
    ]

    class Loaded(Message):
        def __init__(self, data: CardData | None, error: str | None = None, generation: int = 0) -> None:
            super().__init__()
            self.data = data
            self.error = error
            self.generation = generation

    class Changed(Message):
        """A write went through: say so and re-read the record."""

        def __init__(self, note: str, row: FieldRow | None = None, *, failed: bool = False) -> None:
            super().__init__()
            self.note = note
            self.row = row
            self.failed = failed

    class FieldRefused(Message):
        def __init__(self, row: FieldRow, value: str, error: BaseException) -> None:
            super().__init__()
            self.row = row
            self.value = value
            self.error = error

    def __init__(self, entity_type: str, entity_id: str) -> None:
        if entity_type not in ENTITY_TITLES:
            raise ValueError(f"a card shows a deal, contact or company, not {entity_type!r}")
        super().__init__()
        self.entity_type = entity_type
        self.entity_id = entity_id
        self.detail: Detail | None = None
        self._specs: list[Group] | None = None
        self._last_row: FieldRow | None = None
        self._generation = 0  # of the newest read; older answers are dropped

    def compose(self) -> ComposeResult:
        with Vertical(id="card-header"):
            yield Static(Text(f"{ENTITY_TITLES[self.entity_type]} · loading…"), id="card-title")
            yield Static("", id="card-subtitle")
        with Horizontal(id="card-body"):
            yield VerticalScroll(id="card-fields")
            with Vertical(id="card-side"):
                yield Static("Timeline", id="timeline-title")
                yield TimelineView(id="timeline")
        yield ActivityBar(self.entity_type, id="activity-bar")
        yield Footer()

    # -- loading ------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self._generation += 1
        self._load(self._generation)

    @work(thread=True, exclusive=True, group="card-load", exit_on_error=False)
    def _load(self, generation: int) -> None:
        """Read the record; only the newest read is shown (see ``on_card_screen_loaded``)."""
        crm = crm_of(self)
        try:
            detail: Detail
            if self.entity_type == "deal":
                detail = get_deal(crm, self.entity_id)
            elif self.entity_type == "contact":
                detail = get_contact(crm, self.entity_id)
            else:
                detail = get_company(crm, self.entity_id)
            items = with_mail(crm, self.entity_type, detail.id, timeline(crm, self.entity_type, detail.id))
            users = [(u.name, u.name) for u in list_users(crm, include_inactive=False)]
        except Exception as exc:  # shown on the card; the app keeps running
            self.post_message(self.Loaded(None, error_message(exc), generation))
            return
        self.post_message(self.Loaded(CardData(detail, items, users), generation=generation))

    async def on_card_screen_loaded(self, message: Loaded) -> None:
        if message.generation != self._generation:
            # a read started before a later one (closing a dialog re-reads, and so
            # does the write the dialog started): it may predate that write
            return
        if message.data is None:
            self.query_one("#card-title", Static).update(plain(f"{ENTITY_TITLES[self.entity_type]} · {message.error}"))
            return
        data = message.data
        self.detail = data.detail
        title = Text(f"{ENTITY_TITLES[self.entity_type]} · ", style="bold")
        title.append_text(plain(data.detail.name, one_line=True, style="bold"))
        self.query_one("#card-title", Static).update(title)
        self.query_one("#card-subtitle", Static).update(subtitle(data.detail))
        timeline_view = self.query_one(TimelineView)
        current = timeline_view.current
        timeline_view.show(data.items, crm_of(self), keep_ref=current.ref_id if current else None)
        await self._show_fields(data)

    async def _show_fields(self, data: CardData) -> None:
        crm = crm_of(self)
        detail = data.detail
        if isinstance(detail, DealDetail):
            groups = deal_groups(crm, detail, data.users)
        elif isinstance(detail, ContactDetail):
            groups = contact_groups(crm, detail, data.users)
        else:
            groups = company_groups(crm, detail, data.users)
        if groups == self._specs:
            return
        focused = self.focused
        old_rows = list(self.query(FieldRow))
        focus_ident = focused.spec.ident if isinstance(focused, FieldRow) else None
        focus_index = old_rows.index(focused) if isinstance(focused, FieldRow) and focused in old_rows else None
        first = self._specs is None
        self._specs = groups
        container = self.query_one("#card-fields", VerticalScroll)
        await container.remove_children()
        widgets: list[Static | FieldRow] = []
        for title, specs in groups:
            widgets.append(GroupTitle(title))
            widgets.extend(FieldRow(spec) for spec in specs)
        await container.mount_all(widgets)
        rows = list(self.query(FieldRow))
        target: FieldRow | None = None
        if focus_index is not None and rows:
            # the same item if it is still there (nearest to where it was), else
            # whatever now stands in its place: after a removal, the next row
            same = [i for i, r in enumerate(rows) if r.spec.ident == focus_ident]
            index = min(same, key=lambda i: abs(i - focus_index)) if same else min(focus_index, len(rows) - 1)
            target = rows[index]
        elif first and rows:
            target = rows[0]
        if target is not None:
            target.focus(scroll_visible=False)

    # -- editing fields ---------------------------------------------------------------

    @on(FieldRow.EditSubmitted)
    def _edit_submitted(self, event: FieldRow.EditSubmitted) -> None:
        event.stop()
        if self.entity_type == "deal" and event.key == "stage":
            self._move_stage(event.value, 0, event.row)
        else:
            self._save_field(event.row, event.key, event.value)

    @work(thread=True, exclusive=True, group="card-save", exit_on_error=False)
    def _save_field(self, row: FieldRow, key: str, value: str) -> None:
        crm = crm_of(self)
        note = "Saved"
        try:
            if self.entity_type == "deal":
                if key == "tags":
                    set_deal_tags(crm, self.entity_id, *tag_changes(self.detail.tags if self.detail else [], value))
                else:
                    edit_deal(crm, self.entity_id, {key: value})
            elif key == "tags":
                setter = set_contact_tags if self.entity_type == "contact" else set_company_tags
                setter(crm, self.entity_id, *tag_changes(self.detail.tags if self.detail else [], value))
            elif self.entity_type == "contact":
                edit_contact(crm, self.entity_id, {key: value})
            else:
                edit_company(crm, self.entity_id, {key: value})
        except Exception as exc:  # the refusal is shown under the field
            self.post_message(self.FieldRefused(row, value, exc))
            return
        self.post_message(self.Changed(note, row))

    def on_card_screen_changed(self, message: Changed) -> None:
        if message.row is not None and message.row.is_attached:
            message.row.finish_edit()
        self.notify(clean(message.note, one_line=True), severity="error" if message.failed else "information", markup=False)
        self.action_reload()

    def on_card_screen_field_refused(self, message: FieldRefused) -> None:
        if message.row.is_attached:
            message.row.show_error(error_message(message.error, under_field=True))

    # -- the stage, through its gate ------------------------------------------------------

    def action_move(self, step: int) -> None:
        """`]`/`[`: the deal's next or previous stage, through the gate."""
        if isinstance(self.detail, DealDetail):
            self._move_stage(None, step, None)

    def _move_stage(self, stage_key: str | None, step: int, row: FieldRow | None) -> None:
        """Move by the one gate-move flow; a refusal shows under the stage row (when edited there)."""
        assert isinstance(self.detail, DealDetail)

        def asking(refusal: CrmError) -> None:
            if row is not None and row.is_attached:
                row.finish_edit()  # the deal stays where it is: show that, not the refused choice
                if isinstance(refusal, GateRefused):
                    row.show_error(error_message(refusal, under_field=True))

        def failed(error: CrmError) -> None:
            if row is not None and row.is_attached:
                row.show_error(error_message(error, under_field=True))
            else:
                self.notify(error_message(error), severity="error", markup=False)

        request = MoveRequest(self.detail.id, self.detail.name, stage_key=stage_key, step=step)
        GateMove(self, request, lambda outcome: self.post_message(self.Changed(moved_note(outcome), row)),
                 on_asking=asking, on_error=failed).start()

    # -- links and activity -----------------------------------------------------------------

    @on(FieldRow.LinkOpened)
    def _open_link(self, event: FieldRow.LinkOpened) -> None:
        event.stop()
        self.app.push_screen(CardScreen(event.link.entity_type, event.link.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Record-specific activities exist only on their records."""
        if action in ("copy_deal", "move"):
            return self.entity_type == "deal"
        if action == "new_deal":
            return self.entity_type in ("contact", "company")
        if action == "new_contact":
            return self.entity_type == "company"
        if action == "link_contact":
            return self.entity_type == "deal"
        return True

    def _record_name(self) -> str:
        return self.detail.name if self.detail else ""

    def action_back(self) -> None:
        self.dismiss()

    def action_focus_timeline(self) -> None:
        self.query_one(TimelineView).focus()

    def action_focus_fields(self) -> None:
        rows = list(self.query(FieldRow))
        if rows and not isinstance(self.focused, FieldRow):
            (self._last_row if self._last_row in rows else rows[0]).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, FieldRow):
            self._last_row = event.widget

    # -- mail ---------------------------------------------------------------------------

    @on(TimelineView.OptionSelected)
    def _open_mail(self, event: TimelineView.OptionSelected) -> None:
        """Enter on a mail entry opens the message as plain text."""
        item = self.query_one(TimelineView).current
        if item is None or item.kind != "email" or not item.ref_id:
            return
        from tui_crm.screens.mail_message import MessageScreen

        def answered(choice: str | None) -> None:
            if choice == "reply" and screen.view is not None:
                self._write_mail(screen.view)

        screen = MessageScreen(item.ref_id, self.entity_type, self.entity_id)
        self.app.push_screen(screen, answered)

    def action_mail(self) -> None:
        if self.entity_type not in ("deal", "contact"):
            self.notify("Mail is written from a deal or a contact", severity="warning")
            return
        self._write_mail(None)

    def _write_mail(self, reply_to: Any) -> None:
        from tui_crm.widgets.mail_dialogs import compose_dialog

        detail = self.detail
        to = ", ".join(detail.emails[:1]) if isinstance(detail, ContactDetail) else ""
        dialog = compose_dialog(crm_of(self), self.entity_type, self.entity_id, to=to, reply_to=reply_to)
        self.app.push_screen(dialog, lambda result: result and self.notify(
            "Sent" if result.status == "sent" else "Queued in the outbox: offline"))

    def action_note(self) -> None:
        self.app.push_screen(note_dialog(crm_of(self), self.entity_type, self.entity_id))

    def action_call(self) -> None:
        self.app.push_screen(call_dialog(crm_of(self), self.entity_type, self.entity_id))

    def action_task(self) -> None:
        self.app.push_screen(add_task_dialog(crm_of(self), self.entity_type, self.entity_id, self._record_name()))

    def action_pin(self) -> None:
        item = self.query_one(TimelineView).current
        if item is None or item.kind not in PINNABLE or not item.ref_id:
            self.notify("Move to a note or call in the timeline to pin it", severity="warning")
            return
        self._toggle_pin(item.ref_id, not item.pinned)

    @work(thread=True, exclusive=True, group="card-save", exit_on_error=False)
    def _toggle_pin(self, note_id: str, pinned: bool) -> None:
        try:
            set_pinned(crm_of(self), note_id, pinned)
        except Exception as exc:  # reported, the card stays as it was
            self.post_message(self.Changed(error_message(exc), failed=True))
            return
        self.post_message(self.Changed("Pinned" if pinned else "Unpinned"))

    def _open_created(self, entity_type: str) -> Callable[[Detail | None], None]:
        """A dialog callback: open the card of what the dialog created."""

        def opened(detail: Detail | None) -> None:
            if detail is not None:
                self.app.push_screen(CardScreen(entity_type, detail.id))

        return opened

    def action_copy_deal(self) -> None:
        if isinstance(self.detail, DealDetail):
            self.app.push_screen(copy_deal_dialog(crm_of(self), self.detail), self._open_created("deal"))

    def action_new_deal(self) -> None:
        detail = self.detail
        if isinstance(detail, ContactDetail):
            dialog = new_deal_dialog(crm_of(self), contact=detail, pipeline=host_of(self).pipeline_key)
        elif isinstance(detail, CompanyDetail):
            dialog = new_deal_dialog(crm_of(self), company=detail, pipeline=host_of(self).pipeline_key)
        else:
            return
        self.app.push_screen(dialog, self._open_created("deal"))

    def action_new_contact(self) -> None:
        if isinstance(self.detail, CompanyDetail):
            self.app.push_screen(PartyForm(crm_of(self), "contact", company=self.detail.name), self._open_created("contact"))

    # -- removing a phone, an e-mail or a deal's contact; linking a contact -------------------

    @on(FieldRow.RemoveRequested)
    def _remove_requested(self, event: FieldRow.RemoveRequested) -> None:
        """Ask first: a removal is logged and synced, and there is no undo key for it."""
        event.stop()
        what, which = event.what, event.which
        shown = event.row.spec.display.plain.removesuffix("  main")
        if what == "contact":
            title, question = "Unlink contact", f"Unlink «{clean(shown, one_line=True)}» from this deal?"
        else:
            noun = REMOVE_NOUNS.get(what, what)
            title = f"Remove {noun}"
            question = f"Remove the {noun} {clean(shown, one_line=True)} from «{clean(self._record_name(), one_line=True)}»?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(what, which, shown)

        self.app.push_screen(ConfirmDialog(title, question, yes="Remove" if what != "contact" else "Unlink"), answered)

    @work(thread=True, exclusive=True, group="card-save", exit_on_error=False)
    def _remove(self, what: str, which: str, shown: str) -> None:
        crm = crm_of(self)
        try:
            if what == "contact":
                unlink_contact(crm, self.entity_id, which)
                note = f"Unlinked {shown}"
            elif self.entity_type == "contact":
                edit_contact(crm, self.entity_id, {}, remove={what: which})
                note = f"Removed {REMOVE_NOUNS.get(what, what)} {shown}"
            else:
                edit_company(crm, self.entity_id, {}, remove={what: which})
                note = f"Removed {REMOVE_NOUNS.get(what, what)} {shown}"
        except Exception as exc:  # reported; the card stays as it was
            self.post_message(self.Changed(error_message(exc), failed=True))
            return
        self.post_message(self.Changed(note))

    def action_link_contact(self) -> None:
        detail = self.detail
        if not isinstance(detail, DealDetail):
            return
        picker = ContactPicker(
            crm_of(self), f"Link a contact to «{clean(detail.name, one_line=True)}»", linked=[c.id for c in detail.contacts]
        )

        def picked(contact_id: str | None) -> None:
            if contact_id:
                self._link(contact_id)

        self.app.push_screen(picker, picked)

    @work(thread=True, exclusive=True, group="card-save", exit_on_error=False)
    def _link(self, contact_id: str) -> None:
        try:
            deal = link_contact(crm_of(self), self.entity_id, contact_id)
        except Exception as exc:  # reported; the card stays as it was
            self.post_message(self.Changed(error_message(exc), failed=True))
            return
        name = next((c.name for c in deal.contacts if c.id == contact_id), "the contact")
        self.post_message(self.Changed(f"Linked {name}"))
