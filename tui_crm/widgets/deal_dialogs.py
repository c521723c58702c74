"""Deal dialogs started from cards: a quick new deal for a contact or
company (``capture_lead`` then ``link_contact``), and copying a deal
(``copy_deal``: target pipeline and stage, what comes along).

A copy enters its stage through the gate like any move: when the gate
refuses, the gate form opens with exactly the missing fields (the Won
form proposes the closing sum from the source's budget at today's rate)
and the copy is retried with them; nothing is created until it passes.
The stage the dialog preselects is the service's ``default_copy_stage``
(the CLI's default too): the deal's own stage while it is open, else Lead,
so accepting the defaults on a won or lost deal starts new work (how the
source was closed is not copied).
"""

from __future__ import annotations

from typing import Any

from tui_crm.domain.errors import GateRefused, ValidationError
from tui_crm.services.context import Crm
from tui_crm.services.deal_copy import CopyOptions, copy_deal, default_copy_stage
from tui_crm.services.deals import LeadInput, capture_lead, link_contact
from tui_crm.services.views import CompanyDetail, ContactDetail, DealDetail
from tui_crm.widgets.form_dialog import FormDialog, FormField


def pipeline_options(crm: Crm) -> list[tuple[str, str]]:
    return [(p.name, p.key) for p in crm.pipelines.pipelines]


def stage_options(crm: Crm) -> list[tuple[str, str]]:
    """Every (pipeline › stage) a deal can be put in, as ``pipeline/stage``."""
    return [
        (f"{p.name} › {s.name}", f"{p.key}/{s.key}")
        for p in crm.pipelines.pipelines
        for s in p.stages
        if s.kind != "unsorted"
    ]


def new_deal_dialog(
    crm: Crm, *, contact: ContactDetail | None = None, company: CompanyDetail | None = None, pipeline: str | None = None
) -> FormDialog[DealDetail]:
    """A deal for this contact/company: the company is prefilled, the contact linked as main."""
    company_name = company.name if company else (contact.company.name if contact and contact.company else "")
    company_id = company.id if company else (contact.company.id if contact and contact.company else None)
    owner = contact.name if contact else (company.name if company else "")

    def submit(values: dict[str, Any]) -> DealDetail:
        typed_company = str(values["company"]).strip()
        company_ref = company_id if company_id and typed_company == company_name else typed_company or None
        deal = capture_lead(
            crm,
            LeadInput(
                name=str(values["name"]), budget=str(values["budget"]).strip() or None,
                pipeline=str(values["pipeline"]) or None, company=company_ref, note=str(values["note"]).strip() or None,
            ),
        )
        if contact is not None:
            deal = link_contact(crm, deal.id, contact.id, main=True)
        return deal

    return FormDialog(
        "New deal",
        [
            FormField("name", "Deal name", required=True, placeholder="Сайт для Магнита"),
            FormField("budget", "Budget (RUB)", placeholder="1 500 000", aliases=("budget_rub", "Бюджет (RUB)", "budget")),
            FormField(
                "pipeline", "Pipeline", kind="select", value=pipeline or crm.settings.default_pipeline,
                options=pipeline_options(crm), required=True,
            ),
            FormField("company", "Company", value=company_name),
            FormField("note", "Note"),
        ],
        submit,
        intro=f"For: {owner}" if owner else "",
    )


class CopyDealDialog(FormDialog[DealDetail]):
    """The copy dialog; a refusal of the target's gate opens the gate form
    and retries the copy with what it filled in."""

    def __init__(self, deal: DealDetail, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deal = deal
        self.gate_values: dict[str, str] = {}  # filled in the gate form, sent with the next try
        self._refusal: GateRefused | None = None
        self._last: dict[str, Any] = {}

    def run_submit(self, values: dict[str, Any]) -> None:
        self._last = values
        super().run_submit(values)

    def handle_error(self, exc: BaseException) -> bool:
        if isinstance(exc, GateRefused):
            self._refusal = exc
            self._ask_gate(exc, None)
            return True
        if isinstance(exc, ValidationError) and self._refusal is not None and self.gate_values:
            self._ask_gate(self._refusal, exc)  # a value typed in the gate form: back to it, under its field
            return True
        return False

    def _ask_gate(self, refusal: GateRefused, error: ValidationError | None) -> None:
        from tui_crm.widgets.gate_move import gate_form

        def retry(filled: dict[str, str] | None) -> None:
            if filled is None:
                self.show_error(refusal)  # cancelled: the dialog says what the stage needs
                return
            self.gate_values.update(filled)
            self.run_submit(self._last)

        name = str(self._last.get("name") or self.deal.name)
        form = gate_form(
            name, refusal.stage_name, refusal.missing, self.gate_values, error,
            deal_id=self.deal.id, title=f"Copy «{name}» into «{refusal.stage_name}»",
        )  # fmt: skip
        self.app.push_screen(form, retry)


def copy_deal_dialog(crm: Crm, deal: DealDetail) -> FormDialog[DealDetail]:
    """Copy a deal (monthly invoices): where to, and what comes along.

    One select holds every pipeline › stage, so picking another pipeline
    means picking its stage too; only the preselection needs the default.
    """
    start = default_copy_stage(crm, deal)
    dialog: CopyDealDialog

    def submit(values: dict[str, Any]) -> DealDetail:
        pipeline_key, _, stage_key = str(values["target"]).partition("/")
        return copy_deal(
            crm,
            deal.id,
            CopyOptions(
                pipeline=pipeline_key, stage=stage_key, name=str(values["name"]).strip() or None,
                contacts=bool(values["contacts"]), tags=bool(values["tags"]), files=bool(values["files"]),
                keep_created_at=bool(values["keep_created_at"]), set_values=dict(dialog.gate_values),
            ),
        )

    dialog = CopyDealDialog(
        deal,
        "Copy deal",
        [
            FormField("name", "Name of the copy", value=deal.name, required=True),
            FormField(
                "target", "Pipeline › stage", kind="select", value=f"{deal.pipeline_key}/{start.key}",
                options=stage_options(crm), required=True,
            ),
            FormField("contacts", "Contacts come along", kind="checkbox", value=True),
            FormField("tags", "Tags come along", kind="checkbox", value=True),
            FormField("files", "Files come along", kind="checkbox", value=True),
            FormField("keep_created_at", "Keep the creation date", kind="checkbox", value=False),
        ],
        submit,
        save_label="Copy",
    )
    return dialog
