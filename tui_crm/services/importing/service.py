"""Running an import: check every row, match records, write in batches.

Two passes over the file, both streaming:

1. every row is checked (``rows.check_row``) and the keys of the people in
   it (normalised phones, e-mails) are joined in a union-find, so that two
   rows sharing a phone, or linked through a third row, are one person; a
   name alone never joins anyone. Unknown pipelines and stages are listed.
2. rows are written in batches, each one transaction (``UnitOfWork``) that
   commits whole: new records through the bulk path (``bulk.py``), changes
   to existing ones through the ordinary services. The batch also records
   per row what happened (``import_row``) and how far the import got, so a
   killed import resumes after its last committed batch, or is undone.

A dry run is the same run in one transaction that is rolled back, so its
counts are exactly what a real run would do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.domain.gates import missing_fields
from tui_crm.domain.matching import company_name_key, email_key, phone_key
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.importing.bulk import BulkInsert, NewRecord, fast_id
from tui_crm.services.importing.profiles import Profile, load_profile
from tui_crm.services.importing.reader import Source, SourceRow, open_source
from tui_crm.services.importing.rows import DealItem, Party, RowContext, check_row, lenient, person_keys
from tui_crm.services.importing.stages import StageMap
from tui_crm.services.records import add_channel, change_tags, channels_of, reindex, reindex_linked, set_custom_value
from tui_crm.storage.import_models import ImportBatch
from tui_crm.storage.models import Company, Contact, Deal, DealContact, Note, User
from tui_crm.storage.unit_of_work import UnitOfWork

MODES = ("create", "update", "upsert")
POLICIES = ("strict", "lenient")
BATCH_ROWS = 10_000  # rows per transaction: fewer commits (each one an fsync) against memory held per batch
REPORT_LIMIT = 5000  # rows kept in the returned report; all are in import_row
Progress = Callable[[int, int], None]
# what the first pass reads of a row: the people's keys, the place of a deal, what the row is
_SCAN_TARGETS = frozenset({"kind", "phone", "email", "contact_phone", "contact_email", "pipeline", "stage"})
_OUR_ID = re.compile(r"^[0-9a-f]{32}$")  # our ids (uuid4 hex); amoCRM's are numbers


@dataclass
class RowOutcome:
    line: int
    record: str
    action: str  # created | updated | merged | skipped | rejected
    reason: str = ""


@dataclass
class ImportOptions:
    kind: str | None = None  # deals | contacts (detected when None)
    dry_run: bool = False
    policy: str = "lenient"
    mode: str = "create"
    profile: str | None = None
    create_stages: bool = False
    batch_rows: int = BATCH_ROWS


@dataclass
class ImportReport:
    import_id: str | None
    file: str
    source: str
    kind: str
    mode: str
    policy: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[RowOutcome] = field(default_factory=list)
    unknown_stages: list[str] = field(default_factory=list)
    created_stages: list[str] = field(default_factory=list)
    layout: list[tuple[str, str | None]] = field(default_factory=list)
    resumed_from: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its single transaction back."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _custom_labels(crm: Crm) -> dict[str, dict[str, str]]:
    return {e: {d.label: k for k, d in crm.pipelines.custom_fields_for(e).items()} for e in ("deal", "contact", "company")}


def open_import_source(crm: Crm, path: Path, kind: str | None = None, profile: Profile | None = None) -> Source:
    """The file opened as the importer will read it (the preview shows this)."""
    columns = profile.columns if profile and profile.columns else None
    return open_source(
        path,
        kind=kind or (profile.kind if profile and profile.columns else None),
        custom_labels=_custom_labels(crm),
        columns=columns,
    )


def _new_record(entity: str, item: Party | DealItem, values: dict[str, Any], **extra: Any) -> NewRecord:
    """A record for the bulk path from a checked row."""
    return NewRecord(
        entity=entity,
        id=fast_id(),
        name=item.name,
        values=values,
        created_at=item.created_at,
        tags=list(item.tags),
        notes=list(item.notes),
        custom=dict(item.custom),
        **extra,
    )


def _big_cache(work: UnitOfWork) -> None:
    """64 MB of page cache for this connection: new rows have random ids, so
    every index insert lands on a different page, and SQLite's default 2 MB
    cache makes a 100k-row import re-read the same pages from disk."""
    work.session.connection().exec_driver_sql("PRAGMA cache_size = -65536")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.first: dict[str, int] = {}

    def add(self, keys: list[str]) -> None:
        index = len(self.parent)
        self.parent.append(index)
        for key in keys:
            other = self.first.setdefault(key, index)
            if other != index:
                self.union(other, index)

    def find(self, index: int) -> int:
        root = index
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[index] != root:
            self.parent[index], index = root, self.parent[index]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class Importer:
    """One import of one file (see the module docstring)."""

    def __init__(self, crm: Crm, path: Path, options: ImportOptions, progress: Progress | None = None) -> None:
        if options.mode not in MODES:
            raise ValidationError("mode", f"{options.mode!r}: use create, update or upsert")
        if options.policy not in POLICIES:
            raise ValidationError("policy", f"{options.policy!r}: use strict or lenient")
        if options.kind not in (None, "deals", "contacts"):
            raise ValidationError("type", f"{options.kind!r}: use deals or contacts")
        self.crm, self.path, self.options, self.progress = crm, path, options, progress
        self.profile = load_profile(crm.settings.config_dir, options.profile) if options.profile else None
        self.source = open_import_source(crm, path, options.kind, self.profile)
        self.ctx = self._context()
        self.uf = _UnionFind()
        self.first_line: dict[str, int] = {}  # fingerprint -> line of its first row in this file
        self.root_target: dict[int, str] = {}  # union-find root -> contact id
        self.created: set[str] = set()
        self.companies_by_inn: dict[str, str] = {}
        self.companies_by_name: dict[str, str] = {}
        self.company_names: dict[str, str] = {}
        self.company_inns: dict[str, str | None] = {}
        self.name_keys: dict[str, str] = {}
        self.stages = StageMap(crm, self.profile)
        self.total = 0
        self.imported_before: dict[str, tuple[int, str]] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            ("rows", "created", "updated", "merged", "skipped", "rejected", "warnings", "contacts", "companies", "deals"), 0
        )
        self.report = ImportReport(
            import_id=None,
            file=str(path),
            source=self.source.description,
            kind=self.source.kind,
            mode=options.mode,
            policy=options.policy,
            dry_run=options.dry_run,
            layout=self.source.layout.mapping if self.source.layout else [],
        )

    # -- set-up ------------------------------------------------------------------

    def _context(self) -> RowContext:
        with self.crm.read() as session:
            users: dict[str, str] = {}
            for user in session.exec(select(User).where(col(User.deleted_at).is_(None))):
                users[fold(user.name)] = user.id
                if user.email:
                    users[fold(user.email)] = user.id
        return RowContext(
            policy=self.options.policy,
            region=self.crm.settings.phone_region,
            tz=self.crm.tz,
            now=self.crm.now(),
            users=users,
            default_user=self.crm.user_id,
            custom_defs={e: self.crm.pipelines.custom_fields_for(e) for e in ("deal", "contact", "company")},
        )

    def _rows(self) -> Iterator[tuple[int, SourceRow]]:
        return enumerate(self.source.rows())

    def scan(self) -> None:
        """Pass 1: check rows, join people by their keys, list unknown stages."""
        scan_ctx = lenient(self.ctx)
        for index, row in enumerate(self.source.rows(only=_SCAN_TARGETS)):
            self.uf.add(person_keys(scan_ctx, row))
            if row.fingerprint:
                self.first_line.setdefault(row.fingerprint, row.line)
            if row.kind == "deal" and row.get("pipeline") and row.get("stage"):
                self.stages.note(row.get("pipeline"), row.get("stage"))
            self.total = index + 1
        self.report.unknown_stages = self.stages.unknown()

    def _match_existing(self) -> None:
        """Roots whose keys an existing contact has; companies by INN and name."""
        phones = [k[2:] for k in self.uf.first if k.startswith("p:")]
        emails = {k[2:] for k in self.uf.first if k.startswith("e:")}
        with self.crm.read() as session:
            conn = session.connection()
            raw = conn.connection.driver_connection
            live_phones = (
                "SELECT ch.normalized, ch.entity_id FROM channel ch JOIN contact c ON c.id = ch.entity_id "
                "WHERE ch.kind = 'phone' AND ch.entity_type = 'contact' AND c.deleted_at IS NULL"
            )
            stored = raw.execute("SELECT count(*) FROM channel WHERE kind = 'phone' AND entity_type = 'contact'").fetchone()[0]
            if stored <= len(phones):  # a small store (a first import above all): read it whole, not by the file's keys
                for normalized, contact_id in raw.execute(live_phones):
                    self._claim(f"p:{phone_key(normalized)}", contact_id)
            for start in range(0, len(phones) if stored > len(phones) else 0, 500):
                chunk = ["+" + p for p in phones[start : start + 500]]
                marks = ",".join("?" * len(chunk))
                for normalized, contact_id in raw.execute(f"{live_phones} AND ch.normalized IN ({marks})", chunk):
                    self._claim(f"p:{phone_key(normalized)}", contact_id)
            if emails:
                rows = conn.execute(
                    text(
                        "SELECT ch.normalized, ch.entity_id FROM channel ch JOIN contact c ON c.id = ch.entity_id "
                        "WHERE ch.kind = 'email' AND ch.entity_type = 'contact' AND c.deleted_at IS NULL"
                    )
                )
                for normalized, contact_id in rows:
                    if email_key(normalized) in emails:
                        self._claim(f"e:{email_key(normalized)}", contact_id)
            for company_id, name, inn in conn.execute(text("SELECT id, name, inn FROM company WHERE deleted_at IS NULL")):
                self._know_company(company_id, name, inn)

    def _claim(self, key: str, contact_id: str) -> None:
        index = self.uf.first.get(key)
        if index is not None:
            self.root_target.setdefault(self.uf.find(index), contact_id)

    def _name_key(self, name: str) -> str:
        """``company_name_key``, once per distinct name (a file names the same companies over and over)."""
        key = self.name_keys.get(name)
        if key is None:
            key = self.name_keys[name] = company_name_key(name)
        return key

    def _know_company(self, company_id: str, name: str, inn: str | None) -> None:
        if inn:
            self.companies_by_inn.setdefault(inn, company_id)
        self.companies_by_name.setdefault(self._name_key(name), company_id)
        self.company_names[company_id] = name
        self.company_inns[company_id] = inn

    # -- the run ---------------------------------------------------------------------

    def run(self) -> ImportReport:
        self.scan()
        if self.options.create_stages and self.report.unknown_stages and not self.options.dry_run:
            self.report.created_stages = self.stages.create_unknown()
        elif self.options.create_stages:
            self.report.created_stages = list(self.report.unknown_stages)  # what a real run would create
            self.stages.pretend_created()
        self._match_existing()
        batch = self._start_batch()
        if batch is not None:
            self.stages.remember_created(batch.id)
        try:
            if self.options.dry_run:
                self._dry_run()
            else:
                self._write_batches(batch)
        finally:
            self.report.counts = dict(self.counts)
        return self.report

    def _start_batch(self) -> ImportBatch | None:
        if self.options.dry_run:
            return None
        digest = file_digest(self.path)
        with self.crm.uow() as work:
            batch = work.session.exec(
                select(ImportBatch).where(ImportBatch.file_sha256 == digest, ImportBatch.status == "running")
            ).first()
            if batch is None:
                batch = ImportBatch(
                    file_name=self.path.name,
                    file_sha256=digest,
                    kind=self.source.kind,
                    mode=self.options.mode,
                    policy=self.options.policy,
                    user_id=self.crm.user_id,
                )
                work.session.add(batch)
            else:
                self.report.resumed_from = batch.rows_done
                created = work.session.connection().execute(
                    text("SELECT entity_id FROM change_log WHERE batch_id = :b AND op = 'create'"), {"b": batch.id}
                )
                self.created.update(r[0] for r in created)  # rows joining them later are merges, as before the kill
                previous = json.loads(batch.counts_json or "{}")
                self.counts.update({k: int(v) for k, v in previous.items() if k in self.counts})
        self.report.import_id = batch.id
        return batch

    def _dry_run(self) -> None:
        work = self.crm.uow(batch_id="dry-run")
        work.__enter__()
        _big_cache(work)
        try:
            bulk = BulkInsert(work)
            pending: list[tuple[int, SourceRow]] = []
            for item in self._rows():
                pending.append(item)
                if len(pending) >= self.options.batch_rows:
                    self._dry_chunk(work, bulk, pending)
                    pending = []
            self._dry_chunk(work, bulk, pending)
            raise _DryRun
        except _DryRun:
            work.__exit__(_DryRun, _DryRun(), None)
        except BaseException as exc:
            work.__exit__(type(exc), exc, None)
            raise

    def _dry_chunk(self, work: UnitOfWork, bulk: BulkInsert, pending: list[tuple[int, SourceRow]]) -> None:
        self.imported_before = self._imported_before(work, [row.fingerprint for _, row in pending if row.fingerprint])
        for index, row in pending:
            self._write_row(work, bulk, index, row, [])
            self._tick(index + 1)
        self._flush(work, bulk)

    def _write_batches(self, batch: ImportBatch | None) -> None:
        assert batch is not None
        skip = self.report.resumed_from
        rows = self._rows()
        pending: list[tuple[int, SourceRow]] = []
        for index, row in rows:
            if index < skip:
                continue
            pending.append((index, row))
            if len(pending) >= self.options.batch_rows:
                self._commit(batch.id, pending)
                pending = []
        self._commit(batch.id, pending, final=True)

    def _commit(self, import_id: str, pending: list[tuple[int, SourceRow]], final: bool = False) -> None:
        with self.crm.uow(batch_id=import_id) as work:
            _big_cache(work)
            bulk = BulkInsert(work)
            records: list[tuple[Any, ...]] = []
            self.imported_before = self._imported_before(work, [row.fingerprint for _, row in pending if row.fingerprint])
            for index, row in pending:
                self._write_row(work, bulk, index, row, records)
                self._tick(index + 1)
            self._flush(work, bulk)
            if records:
                raw = work.session.connection().connection.driver_connection
                raw.executemany(
                    "INSERT INTO import_row (import_id, line, action, entity, entity_id, fingerprint, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(import_id, *r) for r in records],
                )
            batch = work.session.get(ImportBatch, import_id)
            assert batch is not None
            if pending:
                batch.rows_done = pending[-1][0] + 1
            batch.counts_json = json.dumps(self.counts)
            if final:
                batch.status = "done"
                batch.finished_at = work.now
            work.session.add(batch)
        if pending:
            self._tick(pending[-1][0] + 1, committed=True)

    @staticmethod
    def _imported_before(work: UnitOfWork, fingerprints: list[str]) -> dict[str, tuple[int, str]]:
        """Fingerprint -> (line, import id) of rows an earlier import wrote (one query per 500)."""
        found: dict[str, tuple[int, str]] = {}
        raw = work.session.connection().connection.driver_connection
        for start in range(0, len(fingerprints), 500):
            chunk = fingerprints[start : start + 500]
            rows = raw.execute(
                "SELECT r.fingerprint, r.line, r.import_id FROM import_row r JOIN import_batch b ON b.id = r.import_id "
                f"WHERE r.fingerprint IN ({','.join('?' * len(chunk))}) AND b.status != 'undone'",
                chunk,
            )
            for fingerprint, line, import_id in rows:
                found.setdefault(fingerprint, (line, import_id))
        return found

    def _tick(self, done: int, committed: bool = False) -> None:
        """Report progress: every 500 rows and after every committed batch."""
        if self.progress is not None and (committed or done % 500 == 0 or done == self.total):
            self.progress(done, self.total)

    def _flush(self, work: UnitOfWork, bulk: BulkInsert) -> None:
        bulk.flush()
        for deal_id in bulk.flushed_deals:  # a deal is found by its contacts' phones: built from the stored links
            reindex(work.session, "deal", deal_id)
        bulk.flushed_deals.clear()

    # -- one row ---------------------------------------------------------------------

    def _outcome(self, records: list[tuple[Any, ...]], row: SourceRow, action: str, reason: str = "",
                 entity: str | None = None, entity_id: str | None = None) -> None:  # fmt: skip
        self.counts[action] += 1
        if reason and action not in ("rejected", "skipped"):
            self.counts["warnings"] += 1
        if (reason or action in ("rejected", "skipped")) and len(self.report.rows) < REPORT_LIMIT:
            self.report.rows.append(RowOutcome(row.line, row.label, action, reason))
        keep_print = action in ("created", "updated", "merged")
        records.append((row.line, action, entity, entity_id, row.fingerprint if keep_print else None, reason or None))

    def _write_row(self, work: UnitOfWork, bulk: BulkInsert, index: int, row: SourceRow, records: list[tuple[Any, ...]]) -> None:
        self.counts["rows"] += 1
        checked = check_row(self.ctx, row)
        if checked.reason:
            self._outcome(records, row, "rejected", checked.reason)
            return
        first = self.first_line.get(row.fingerprint)
        if first is not None and first != row.line:
            self._outcome(records, row, "skipped", f"exact repeat of line {first}")
            return
        earlier = self.imported_before.get(row.fingerprint) if row.fingerprint else None
        if earlier is not None:
            self._outcome(records, row, "skipped", f"exact repeat of line {earlier[0]} of import {earlier[1][:8]}")
            return
        item = checked.item
        warnings = list(checked.warnings)
        if isinstance(item, DealItem):
            action, entity_id = self._deal(work, bulk, index, item, warnings)
            entity = "deal"
        else:
            assert isinstance(item, Party)
            action, entity_id, extra = self._party(work, bulk, index, item)
            warnings += extra
            entity = item.kind
        reason = "; ".join(warnings)
        if action.startswith("skipped:") or action.startswith("rejected:"):
            verb, why = action.split(":", 1)
            self._outcome(records, row, verb, why)
            return
        self.counts[{"contact": "contacts", "company": "companies", "deal": "deals"}[entity]] += action == "created"
        self._outcome(records, row, action, reason, entity, entity_id)

    # -- people and companies --------------------------------------------------------------

    def _party(self, work: UnitOfWork, bulk: BulkInsert, index: int, item: Party) -> tuple[str, str | None, list[str]]:
        mode = self.options.mode
        notes: list[str] = []
        keyed = item.kind == "contact" and bool(item.phones or item.emails)
        if item.kind == "company":
            target = self._company_target(item.fields.get("inn"), item.name)
        else:
            target = self.root_target.get(self.uf.find(index)) if keyed else None
        if target is not None and item.kind == "company" and item.fields.get("inn"):
            self.companies_by_inn.setdefault(item.fields["inn"], target)
            self.company_inns[target] = self.company_inns.get(target) or item.fields["inn"]
        if target is not None and target in self.created:
            self._enrich(work, bulk, item.kind, target, item, overwrite=False)
            return "merged", target, notes
        if target is not None:
            if mode == "create":
                return (
                    f"skipped:exists as {item.kind} {target[:8]} (same {self._same(item)}); use --mode upsert to update it",
                    target,
                    notes,
                )
            self._enrich(work, bulk, item.kind, target, item, overwrite=True)
            return "updated", target, notes
        if mode == "update":
            return (
                f"skipped:no existing {item.kind} has this {'INN or name' if item.kind == 'company' else 'phone or e-mail'}"
                "; --mode upsert creates it",
                None,
                notes,
            )
        record = self._new_party(work, bulk, item)
        if keyed:
            self.root_target[self.uf.find(index)] = record.id
        return "created", record.id, notes

    @staticmethod
    def _same(item: Party) -> str:
        if item.kind == "company":
            return "INN" if item.fields.get("inn") else "name"
        return "phone or e-mail"

    def _company_target(self, inn: str | None, name: str) -> str | None:
        """By a valid INN; else by name, where a company known by name has no
        other INN (two companies of one name and different INNs stay apart)."""
        if inn and inn in self.companies_by_inn:
            return self.companies_by_inn[inn]
        found = self.companies_by_name.get(self._name_key(name))
        if found and inn and self.company_inns.get(found) not in (None, inn):
            return None
        return found

    def _new_party(self, work: UnitOfWork, bulk: BulkInsert, item: Party) -> NewRecord:
        values = dict(item.fields)
        values["responsible_id"] = item.responsible_id
        extra: list[str] = []
        if item.kind == "contact" and item.company:
            company_id = self._company_for(work, bulk, item.company, None, item.responsible_id)
            values["company_id"] = company_id
            extra.append(self.company_names.get(company_id, item.company))
        record = bulk.add(
            _new_record(item.kind, item, values, phones=list(item.phones), emails=list(item.emails), search_extra=extra)
        )
        self.created.add(record.id)
        if item.kind == "company":
            self._know_company(record.id, record.name, values.get("inn"))
        return record

    def _company_for(self, work: UnitOfWork, bulk: BulkInsert, name: str, inn: str | None, responsible_id: str | None) -> str:
        """The company a contact or deal names: found by INN or name, else created."""
        found = self._company_target(inn, name)
        if found:
            return found
        self.counts["companies"] += 1
        fields = {"inn": inn} if inn else {}
        return self._new_party(work, bulk, Party(kind="company", name=name, fields=fields, responsible_id=responsible_id)).id

    def _enrich(self, work: UnitOfWork, bulk: BulkInsert, entity: str, target: str, item: Party, *, overwrite: bool) -> None:
        """Add the row's details to a record: new phones/e-mails/tags/notes always;
        fields only where empty, or (``overwrite``: update/upsert) every mapped one."""
        pending = bulk.get(target)
        if pending is not None:  # created earlier in this batch: merge before it is written
            for typed, normalized in item.phones:
                if not pending.has_channel("phone", normalized):
                    pending.phones.append((typed, normalized))
            for typed, normalized in item.emails:
                if not pending.has_channel("email", normalized):
                    pending.emails.append((typed, normalized))
            for key, value in item.fields.items():
                pending.values.setdefault(key, value)
            pending.tags.extend(t for t in item.tags if t not in pending.tags)
            pending.notes.extend(n for n in item.notes if n not in pending.notes)
            for key, value in item.custom.items():
                pending.custom.setdefault(key, value)
            return
        model = Contact if entity == "contact" else Company
        session = work.session
        record = session.get(model, target)
        if record is None:
            raise NotFoundError(f"{entity} {target[:8]} vanished during the import; run it again")
        values = {k: v for k, v in item.fields.items() if overwrite or getattr(record, k) in (None, "")}
        if overwrite and item.name and item.name != record.name:
            values.update(name=item.name, name_fold=fold(item.name))
        if entity == "contact" and item.company and (overwrite or record.company_id is None):  # type: ignore[union-attr]
            values["company_id"] = self._company_for(work, bulk, item.company, None, item.responsible_id)
        work.update(record, **values)
        for typed, normalized in item.phones:
            add_channel(work, record, "phone", typed, normalized)
        have = {email_key(c.normalized) for c in channels_of(session, entity, record.id) if c.kind == "email"}
        for typed, normalized in item.emails:
            if email_key(normalized) not in have:  # «IVAN@x.ru» is the «ivan@x.ru» it has
                add_channel(work, record, "email", typed, normalized)
        for key, value in item.custom.items():
            set_custom_value(work, record, key, value)
        if item.tags:
            change_tags(work, record, add=item.tags)
        for note in item.notes:
            work.create(Note(entity_type=entity, entity_id=record.id, text=note, author_id=self.crm.user_id))
        bulk.flush()  # a company this created must exist before the search entry reads it
        reindex(session, entity, record.id)
        reindex_linked(session, entity, record.id)

    # -- deals ----------------------------------------------------------------------------

    def _deal(
        self, work: UnitOfWork, bulk: BulkInsert, index: int, item: DealItem, warnings: list[str]
    ) -> tuple[str, str | None]:
        place = self.stages.resolve(item.pipeline, item.stage)
        if place is None:
            return (
                f"rejected:unknown stage «{item.pipeline} / {item.stage}»; map it (--map PROFILE) or create it (--create-stages)",
                None,
            )
        session = work.session
        contact_id: str | None = None
        if item.contact is not None:
            contact_id = self._deal_contact(work, bulk, index, item.contact)
        company_id = self._company_for(work, bulk, item.company, item.company_inn, item.responsible_id) if item.company else None
        values: dict[str, Any] = dict(item.fields)
        gate = dict(item.custom)
        gate.update(
            budget_rub=values.get("budget_rub"), budget_usd=values.get("budget_usd"), loss_reason=values.get("loss_reason")
        )
        gate["company.inn"] = item.company_inn or (self._company_inn(session, company_id) if company_id else None)
        missing = missing_fields(self.crm.pipelines, place.pipeline_key, place.stage_key, gate)
        if missing:
            warnings.append(f"«{place.stage_name}» asks for {', '.join(m.label for m in missing)}: not in the file, left empty")
        existing = None
        if self.options.mode != "create":
            found = self._existing_deal(session, item, place)
            if isinstance(found, str):
                return f"rejected:{found}", None
            existing = found
        if existing is None and self.options.mode == "update":
            return "skipped:no existing deal has this ID, or this name in this pipeline; --mode upsert creates it", None
        if existing is not None:
            changes = dict(values, stage_id=place.stage_id)
            if item.name != existing.name:  # matched by its ID: the file's name is the one to keep
                changes.update(name=item.name, name_fold=fold(item.name))
            if company_id:
                changes["company_id"] = company_id
            if item.responsible_id:
                changes["responsible_id"] = item.responsible_id
            work.update(existing, **changes)
            for key, value in item.custom.items():
                set_custom_value(work, existing, key, value)
            if item.tags:
                change_tags(work, existing, add=item.tags)
            if contact_id and session.get(DealContact, (existing.id, contact_id)) is None:
                bulk.flush()
                session.add(DealContact(deal_id=existing.id, contact_id=contact_id, is_main=False))
                work.touch(existing)
            reindex(session, "deal", existing.id)
            return "updated", existing.id
        values.update(
            pipeline_id=place.pipeline_id,
            stage_id=place.stage_id,
            responsible_id=item.responsible_id,
            company_id=company_id,
            stage_entered_at=item.created_at or work.now,
        )
        record = bulk.add(_new_record("deal", item, values, contacts=[contact_id] if contact_id else []))
        self.created.add(record.id)
        return "created", record.id

    @staticmethod
    def _existing_deal(session: Any, item: DealItem, place: Any) -> Deal | str | None:
        """The deal a row of update/upsert is, by the keys an export carries:
        its «ID» first (ours, from our own export, or amoCRM's, through the
        sync's id map), then its name in the pipeline when exactly one live
        deal has it. Several namesakes: the reason the row is refused."""
        live = col(Deal.deleted_at).is_(None)
        if item.external_id:
            local = item.external_id.lower()
            if not _OUR_ID.match(local):
                row = session.connection().execute(
                    text(
                        "SELECT local_id FROM sync_id_map WHERE entity = 'deal' AND remote_id = :r "
                        "AND state = 'linked' ORDER BY adapter LIMIT 1"
                    ),
                    {"r": item.external_id},
                ).first()
                local = row[0] if row else ""
            found = session.exec(select(Deal).where(Deal.id == local, live)).first() if local else None
            if found is not None:
                return found
        named = session.exec(
            select(Deal).where(Deal.name_fold == fold(item.name), Deal.pipeline_id == place.pipeline_id, live).limit(2)
        ).all()
        if len(named) > 1:
            count = session.connection().execute(
                text("SELECT count(*) FROM deal WHERE name_fold = :n AND pipeline_id = :p AND deleted_at IS NULL"),
                {"n": fold(item.name), "p": place.pipeline_id},
            ).scalar_one()
            return (
                f"{count} deals named «{item.name}» in «{item.pipeline}»; which one is not clear. "
                "Add an ID column (crm export deals writes one) or rename them"
            )
        return named[0] if named else None

    @staticmethod
    def _company_inn(session: Any, company_id: str) -> str | None:
        company = session.get(Company, company_id)
        return company.inn if company else None

    def _deal_contact(self, work: UnitOfWork, bulk: BulkInsert, index: int, person: Party) -> str:
        root = self.uf.find(index)
        keyed = bool(person.phones or person.emails)
        target = self.root_target.get(root) if keyed else None
        if target is not None:
            self._enrich(work, bulk, "contact", target, person, overwrite=False)
            return target
        record = self._new_party(work, bulk, person)
        self.counts["contacts"] += 1
        if keyed:
            self.root_target[root] = record.id
        return record.id


def run_import(crm: Crm, path: Path, options: ImportOptions, progress: Progress | None = None) -> ImportReport:
    """Import a file (or dry-run it); see the module docstring."""
    return Importer(crm, path, options, progress).run()
