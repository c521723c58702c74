"""Plain data the services hand to the CLI and the TUI.

No live ORM objects cross this line, so a screen never holds a session open
and sync can run beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def as_dict(view: Any) -> dict[str, Any]:
    """JSON-friendly dict of a view (``--json`` output)."""

    def convert(value: Any) -> Any:
        if isinstance(value, date):  # datetime too
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return convert(asdict(view))


@dataclass
class StageView:
    id: str
    key: str
    name: str
    kind: str
    sort: int


@dataclass
class PipelineView:
    id: str
    key: str
    name: str
    stages: list[StageView]


@dataclass
class StageTotals:
    stage: StageView
    count: int
    budget_rub: Decimal
    budget_usd: Decimal


@dataclass
class DealSummary:
    id: str
    name: str
    pipeline: str
    stage: str
    stage_key: str
    budget_rub: Decimal | None
    budget_usd: Decimal | None
    company: str | None
    main_contact: str | None
    responsible: str | None
    next_task_due: datetime | None
    task_mark: str  # overdue | today | planned | none
    updated_at: datetime
    tags: list[str] = field(default_factory=list)
    # Where it came from and how it ended: ``list_deals`` fills these (the board's
    # cards do not need them, so they are left out of equality); the reports are
    # recomputed from them in tests/cli/test_reports_recompute.py.
    created_at: datetime | None = field(default=None, compare=False)
    closed_at: datetime | None = field(default=None, compare=False)
    source_channel: str | None = field(default=None, compare=False)
    source_site: str | None = field(default=None, compare=False)
    territory: str | None = field(default=None, compare=False)
    loss_reason: str | None = field(default=None, compare=False)
    # ``list_deals(history=True)`` (``crm deals list --history``): every stage entry, oldest first.
    stage_path: list[StageStep] | None = field(default=None, compare=False)


@dataclass
class StageStep:
    """A deal entered ``stage_key`` of ``pipeline_key`` at ``at`` (from the change log)."""

    pipeline_key: str
    stage_key: str
    at: datetime


@dataclass
class LinkView:
    id: str
    name: str
    entity_type: str
    is_main: bool = False


@dataclass
class ChannelView:
    kind: str
    value: str
    normalized: str


@dataclass
class DealDetail:
    id: str
    name: str
    pipeline_key: str
    pipeline: str
    stage_key: str
    stage: str
    responsible: str | None
    budget_rub: Decimal | None
    budget_usd: Decimal | None
    company: LinkView | None
    contacts: list[LinkView]
    tags: list[str]
    custom: dict[str, Any]
    source_channel: str | None
    source_site: str | None
    source_message: str | None
    source_url: str | None
    loss_reason: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    revision: int
    files: list[str] = field(default_factory=list)
    closing_rate: Decimal | None = None  # RUB per USD of the won day (Bank of Russia)
    closing_rate_date: date | None = None
    notices: list[str] = field(default_factory=list)  # what capture decided for the user to know (a matched contact...)


@dataclass
class ContactDetail:
    id: str
    name: str
    responsible: str | None
    position: str | None
    department: str | None
    gender: str | None
    birthday: str | None
    company: LinkView | None
    phones: list[str]
    emails: list[str]
    messengers: list[ChannelView]
    deals: list[LinkView]
    tags: list[str]
    custom: dict[str, Any]
    missing_required: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass
class CompanyDetail:
    id: str
    name: str
    responsible: str | None
    inn: str | None
    web: str | None
    address: str | None
    company_type: str | None
    turnover: str | None
    industry: str | None
    employees: int | None
    needs: str | None
    territory: str | None
    phones: list[str]
    emails: list[str]
    contacts: list[LinkView]
    deals: list[LinkView]
    tags: list[str]
    custom: dict[str, Any]
    missing_required: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass
class PartySummary:
    """A row of the contacts or companies list."""

    id: str
    entity_type: str
    name: str
    company: str | None
    phone: str | None
    email: str | None
    responsible: str | None
    updated_at: datetime


@dataclass
class TaskView:
    id: str
    task_type: str
    text: str
    due_at: datetime  # aware, local time
    all_day: bool
    responsible: str | None
    entity_type: str | None
    entity_id: str | None
    entity_name: str | None
    completed_at: datetime | None
    result: str | None
    overdue_by: str | None = None


@dataclass
class NoteView:
    id: str
    kind: str
    text: str
    pinned: bool
    author: str | None
    created_at: datetime
    call_outcome: str | None = None


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # note | call | email | task | stage | field | created | system
    text: str
    pinned: bool = False
    ref_id: str | None = None
    author: str | None = None


@dataclass
class UserView:
    id: str
    name: str
    email: str | None
    is_active: bool
    is_admin: bool
    is_current: bool = False
    signature: str | None = None  # added under the mail the user sends (set by an admin)


@dataclass
class SearchResult:
    entity_type: str
    id: str
    name: str
    detail: str


@dataclass
class MoveOutcome:
    deal_id: str
    deal_name: str
    from_stage: str
    to_stage: str
    moved: bool
    auto_task: str | None = None
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    tasks_completed: list[str] = field(default_factory=list)  # closing: open tasks completed with the deal
    tasks_kept: list[str] = field(default_factory=list)  # closing: tasks a person set, left open
    to_stage_key: str | None = None  # the stage moved to (``move_deal``)


@dataclass
class DuplicateCandidate:
    id: str
    entity_type: str
    name: str
    reason: str  # email | phone | inn | name
    responsible: str | None = None  # whose record it is: the manual says agree a transfer with them
    responsible_id: str | None = None


@dataclass
class UnsortedView:
    id: str
    pipeline: str
    source: str
    sender_name: str | None
    sender_email: str | None
    sender_phone: str | None
    subject: str | None
    body: str | None
    received_at: datetime
    status: str
    decline_reason: str | None
    deal_id: str | None
    site: str | None = None
    url: str | None = None
    territory: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
