"""SQLModel tables: the whole local store.

Every syncable row carries a client-made id, created/updated timestamps in
UTC (aware; SQLModel's UTCDateTime), a revision counter and a ``deleted_at`` tombstone. Money is kept
as integer minor units (kopecks, cents) so sums are exact and SQL can add
them. Custom field values are JSON in ``custom_value`` keyed by field key.
Tables are changed only through Alembic migrations (storage/migrations).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from tui_crm.domain.ids import new_id, utcnow


class Row(SQLModel):
    """Base of every table.

    Table rows are never validated by pydantic (SQLModel constructs them
    directly), so their validators and serializers are built only if
    something asks for one; building them for ~25 tables at import was a
    tenth of a cold ``crm add lead``.
    """

    model_config = SQLModelConfig(defer_build=True)


class Record(Row):
    """Columns every syncable row has."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    revision: int = 1
    deleted_at: datetime | None = None


class User(Record, table=True):
    __tablename__ = "user"

    name: str
    email: str | None = None
    is_active: bool = True
    is_admin: bool = False
    signature: str | None = Field(default=None, sa_column=Column(Text))


class Pipeline(Record, table=True):
    __tablename__ = "pipeline"

    key: str = Field(unique=True)
    name: str
    sort: int = 0


class Stage(Record, table=True):
    __tablename__ = "stage"
    __table_args__ = (UniqueConstraint("pipeline_id", "key"),)

    pipeline_id: str = Field(foreign_key="pipeline.id", index=True)
    key: str
    name: str
    sort: int = 0
    kind: str = "normal"  # unsorted | lead | normal | won | lost


def deleted_index(table: str) -> Index:
    """A tiny partial index of a table's tombstones (migration 0005): the
    agenda asks "is this task's record deleted?" once per open task."""
    return Index(f"ix_{table}_deleted", "id", sqlite_where=sql_text("deleted_at IS NOT NULL"))


class Company(Record, table=True):
    __tablename__ = "company"
    __table_args__ = (deleted_index("company"),)

    name: str
    name_fold: str = Field(index=True)
    responsible_id: str | None = Field(default=None, foreign_key="user.id")
    web: str | None = None
    address: str | None = None
    inn: str | None = Field(default=None, index=True)
    company_type: str | None = None  # new client | existing client | partner
    turnover: str | None = None
    industry: str | None = None
    employees: int | None = None
    needs: str | None = Field(default=None, sa_column=Column(Text))
    territory: str | None = None  # РФ | Запад


class Contact(Record, table=True):
    __tablename__ = "contact"
    __table_args__ = (deleted_index("contact"),)

    name: str
    name_fold: str = Field(index=True)
    responsible_id: str | None = Field(default=None, foreign_key="user.id")
    company_id: str | None = Field(default=None, foreign_key="company.id", index=True)
    position: str | None = None
    department: str | None = None
    gender: str | None = None
    birthday: date | None = None


class Channel(Row, table=True):
    """A phone, email, site or messenger handle of a contact or company.

    ``normalized`` holds the E.164 phone or lowercased email that duplicate
    detection and mail matching look up.
    """

    __tablename__ = "channel"
    __table_args__ = (Index("ix_channel_lookup", "kind", "normalized"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    entity_type: str  # contact | company
    entity_id: str = Field(index=True)
    kind: str  # phone | email | telegram | linkedin | skype | whatsapp | web
    value: str
    normalized: str
    label: str | None = None
    sort: int = 0


class Deal(Record, table=True):
    __tablename__ = "deal"
    __table_args__ = (
        Index("ix_deal_board", "pipeline_id", "stage_id", "deleted_at", "updated_at"),
        Index("ix_deal_responsible", "responsible_id", "deleted_at"),
        # Covering indexes (migration 0003): deep list pages and board totals.
        Index("ix_deal_recent", "deleted_at", "updated_at", "id"),
        Index("ix_deal_pipeline_recent", "pipeline_id", "deleted_at", "updated_at", "id"),
        Index("ix_deal_name", "deleted_at", "name_fold", "id"),
        Index("ix_deal_stage_totals", "pipeline_id", "deleted_at", "stage_id", "budget_rub", "budget_usd"),
        deleted_index("deal"),
    )

    name: str
    name_fold: str
    pipeline_id: str = Field(foreign_key="pipeline.id")
    stage_id: str = Field(foreign_key="stage.id")
    responsible_id: str | None = Field(default=None, foreign_key="user.id")
    company_id: str | None = Field(default=None, foreign_key="company.id", index=True)
    budget_rub: int | None = None  # kopecks
    budget_usd: int | None = None  # cents
    source_channel: str | None = None
    source_site: str | None = None  # RU | COM
    source_message: str | None = Field(default=None, sa_column=Column(Text))
    source_url: str | None = None
    loss_reason: str | None = None
    closed_at: datetime | None = None
    stage_entered_at: datetime = Field(default_factory=utcnow)
    # Won at the Bank of Russia's rate (RUB per USD, as published: "92.5058") of this date (migration 0006).
    closing_rate: str | None = None
    closing_rate_date: date | None = None


class DealContact(Row, table=True):
    __tablename__ = "deal_contact"

    deal_id: str = Field(foreign_key="deal.id", primary_key=True)
    contact_id: str = Field(foreign_key="contact.id", primary_key=True, index=True)
    is_main: bool = False


class CustomValue(Row, table=True):
    """A custom field's value (JSON text) on a deal, contact or company."""

    __tablename__ = "custom_value"

    entity_type: str = Field(primary_key=True)
    entity_id: str = Field(primary_key=True)
    field_key: str = Field(primary_key=True)
    value_json: str = Field(sa_column=Column(Text, nullable=False))


class CustomFieldDef(Record, table=True):
    """Definitions mirrored from the pipelines TOML so sync and SQL see them."""

    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("entity", "key"),)

    entity: str
    key: str
    label: str
    field_type: str
    options_json: str = "[]"
    sort: int = 0


class Tag(Row, table=True):
    __tablename__ = "tag"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str
    name_fold: str = Field(unique=True)


class EntityTag(Row, table=True):
    __tablename__ = "entity_tag"

    entity_type: str = Field(primary_key=True)
    entity_id: str = Field(primary_key=True)
    tag_id: str = Field(foreign_key="tag.id", primary_key=True, index=True)


OPEN_TASK = sql_text("completed_at IS NULL AND deleted_at IS NULL")


class Task(Record, table=True):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_entity_open", "entity_id", "completed_at", "due_at"),
        Index("ix_task_agenda", "completed_at", "due_at"),
        # The agenda's counts and pages (migration 0005): open tasks only.
        Index("ix_task_open_user", "responsible_id", "due_at", "all_day", "entity_id", sqlite_where=OPEN_TASK),
        Index("ix_task_open_due", "due_at", "all_day", "entity_id", sqlite_where=OPEN_TASK),
        # The activity report (migration 0016): tasks completed in a period, by whom.
        Index("ix_task_completed", "completed_at", "responsible_id", sqlite_where=sql_text("completed_at IS NOT NULL")),
    )

    task_type: str = "follow-up"  # call | meeting | email | follow-up | other
    text: str = Field(sa_column=Column(Text, nullable=False))
    due_at: datetime
    all_day: bool = False
    responsible_id: str | None = Field(default=None, foreign_key="user.id")
    entity_type: str | None = None
    entity_id: str | None = None
    completed_at: datetime | None = None
    result: str | None = Field(default=None, sa_column=Column(Text))
    auto_rule: str | None = None


class Note(Record, table=True):
    __tablename__ = "note"
    __table_args__ = (
        Index("ix_note_entity", "entity_id", "pinned", "created_at"),
        # The activity report (migration 0016): calls logged, by whom and when.
        Index("ix_note_call_author", "author_id", "created_at", sqlite_where=sql_text("kind = 'call'")),
    )

    entity_type: str
    entity_id: str
    kind: str = "note"  # note | call | email | system
    text: str = Field(sa_column=Column(Text, nullable=False))
    pinned: bool = False
    author_id: str | None = Field(default=None, foreign_key="user.id")
    call_outcome: str | None = None


class StoredFile(Row, table=True):
    """File content lives under the data dir, addressed by its SHA-256."""

    __tablename__ = "file"

    sha256: str = Field(primary_key=True)
    size: int
    mime: str | None = None


class EntityFile(Record, table=True):
    __tablename__ = "entity_file"

    entity_type: str
    entity_id: str = Field(index=True)
    sha256: str = Field(foreign_key="file.sha256")
    name: str


class UnsortedEntry(Record, table=True):
    """An incoming request (mail, web form, remote) waiting for triage."""

    __tablename__ = "unsorted_entry"

    pipeline_id: str = Field(foreign_key="pipeline.id", index=True)
    source: str = "form"  # mail | form | amocrm
    sender_name: str | None = None
    sender_email: str | None = None
    sender_phone: str | None = None
    subject: str | None = None
    body: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = Field(default_factory=utcnow)
    status: str = "new"  # new | accepted | declined
    decline_reason: str | None = None
    deal_id: str | None = Field(default=None, foreign_key="deal.id")
    # Web forms and mail intake (migration 0009_mail): the site (RU | COM), the
    # page the form was sent from, the territory the site implies, the form's
    # other keys (UTM, unknown fields) as JSON, and the message it came in.
    source_site: str | None = None
    source_url: str | None = None
    territory: str | None = None
    extra_json: str | None = Field(default=None, sa_column=Column(Text))
    mail_message_id: str | None = None


class ChangeLog(Row, table=True):
    """One row per mutation: timeline, undo and the sync outbox.

    ``changes`` is JSON ``{field: [old, new]}``. ``synced_at`` stays NULL
    until a sync adapter has pushed the row.
    """

    __tablename__ = "change_log"
    __table_args__ = (
        Index("ix_change_entity", "entity_id", "seq"),
        Index("ix_change_pending", "synced_at", "seq"),
        # The activity report (migration 0016): deals each user changed in a period.
        Index("ix_change_deal_user", "user_id", "at", "entity_id", sqlite_where=sql_text("entity = 'deal'")),
    )

    seq: int | None = Field(default=None, primary_key=True)
    entity: str
    entity_id: str
    op: str  # create | update | delete | restore
    changes: str = Field(sa_column=Column(Text, nullable=False))
    user_id: str | None = None
    at: datetime = Field(default_factory=utcnow)
    batch_id: str | None = Field(default=None, index=True)
    synced_at: datetime | None = None


class ExchangeRate(Row, table=True):
    """A Bank of Russia rate fetched once: RUB per unit of ``currency`` for
    ``day`` (the day asked for), as of ``rate_date`` (the file's date)."""

    __tablename__ = "exchange_rate"

    currency: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    rate: str  # a Decimal as text: exact, as published
    rate_date: date
    fetched_at: datetime = Field(default_factory=utcnow)


class Setting(Row, table=True):
    """Small key/value state kept with the data (last sync, schema notes)."""

    __tablename__ = "setting"

    key: str = Field(primary_key=True)
    value: str
