"""Streaming a file into source rows: one per record, with its line number.

A file is read twice at most (matching needs every key before anything is
written) and never held in memory: the CSV reader and the vCard splitter
are generators. A row that cannot be read (a cell count that does not
match the header, an unterminated quote at the end of a cut-off file) comes
out with ``error`` set, so it is reported with its line and rejected.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tui_crm.domain.errors import ValidationError
from tui_crm.services.importing.amocrm_layout import (
    KIND_COMPANY,
    KIND_CONTACT,
    LIST_TARGETS,
    Layout,
    mapped_layout,
    read_layout,
)
from tui_crm.services.importing.detect import CsvDialect, detect

_ESCAPED = ("=", "+", "-", "@", "\t", "\r")
csv.field_size_limit(16 * 1024 * 1024)  # a long note is data, not an attack


@dataclass
class SourceRow:
    """One record as the file has it (strings only)."""

    line: int
    kind: str  # deal | contact | company
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    fingerprint: str = ""
    error: str | None = None

    def get(self, target: str) -> str:
        return self.values.get(target, "")

    @property
    def label(self) -> str:
        """What the row is, for a report line (the name as the file has it)."""
        name = self.values.get("name") or " ".join(x for x in (self.values.get("first_name"), self.values.get("last_name")) if x)
        return name or "(no name)"


@dataclass
class Source:
    """An opened file: its format, dialect and column layout."""

    path: Path
    format: str  # amocrm | csv | vcard
    kind: str  # deals | contacts
    dialect: CsvDialect | None = None
    layout: Layout | None = None

    def rows(self, only: frozenset[str] | None = None) -> Iterator[SourceRow]:
        """Every record; ``only``: just these targets of a CSV (a first pass
        that needs the matching keys reads less), line numbers and
        fingerprints as ever."""
        if self.format == "vcard":
            yield from _vcard_rows(self.path)
        else:
            assert self.dialect is not None and self.layout is not None
            yield from _csv_rows(self.path, self.dialect, self.layout, only)

    @property
    def description(self) -> str:
        if self.format == "vcard":
            return "vCard"
        assert self.dialect is not None
        what = "amoCRM export" if self.format == "amocrm" else "CSV with a saved mapping"
        return f"{what} ({self.kind}), {self.dialect.label}"


def _fingerprint(kind: str, cells: list[str]) -> str:
    text = "\x1f".join([kind, *map(str.strip, cells)])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def split_multi(cell: str) -> list[str]:
    """Several phones or e-mails in one cell, as amoCRM writes them (", ")."""
    return [part.strip() for part in cell.replace(";", ",").split(",") if part.strip()]


def _csv_rows(path: Path, dialect: CsvDialect, layout: Layout, only: frozenset[str] | None = None) -> Iterator[SourceRow]:
    width = len(layout.headers)
    kind_default = "deal" if layout.kind == "deals" else "contact"
    plan = [step for step in _plan(layout) if only is None or step[1] in only]
    with path.open("r", encoding=dialect.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=dialect.delimiter)
        try:
            next(reader)
        except (StopIteration, csv.Error):
            return
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a NUL byte or a quote cut off at the very end
                yield SourceRow(line=start, kind=kind_default, error=f"unreadable CSV ({exc}); the line may be cut off")
                return
            if not "".join(cells).strip():
                continue
            if len(cells) != width:
                hint = " (the file may be cut off here)" if len(cells) < width else ""
                yield SourceRow(
                    line=start,
                    kind=kind_default,
                    error=f"has {len(cells)} cells, the header has {width}{hint}",
                    values={"name": cells[1] if len(cells) > 1 else (cells[0] if cells else "")},
                )
                continue
            yield _row_from_cells(start, cells, layout, kind_default, plan)


# how a column's cell is taken (the plan is made once per file, not per cell)
_VALUE, _MULTI, _NOTE, _TAGS = range(4)


def _plan(layout: Layout) -> list[tuple[int, str, int]]:
    """(column, target, how) of the mapped columns only."""
    plan = []
    for index, target in enumerate(layout.targets):
        if target is None:
            continue
        how = _VALUE
        if target in LIST_TARGETS:
            how = _NOTE if target == "note" else _TAGS if target == "tags" else _MULTI
        plan.append((index, target, how))
    return plan


def _row_from_cells(
    line: int, cells: list[str], layout: Layout, kind_default: str, plan: list[tuple[int, str, int]]
) -> SourceRow:
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for index, target, how in plan:
        cell = cells[index]
        stripped = cell.strip()
        if not stripped:
            continue
        if cell[0] == "'" and cell[1:2] in _ESCAPED:  # a spreadsheet-safe cell (see services.exporting)
            cell = cell[1:]
            stripped = cell.strip()
        if how == _VALUE:
            if target not in values:  # a repeated column: the first filled one wins
                values[target] = stripped
            continue
        if how == _MULTI:
            parts = split_multi(cell) if ("," in cell or ";" in cell) else [stripped]
        elif how == _NOTE:
            parts = [stripped]
        else:
            parts = [p for p in (x.strip() for x in cell.split(",")) if p]
        found = lists.get(target)
        if found is None:
            lists[target] = parts
        else:
            found.extend(parts)
    kind = kind_default
    if layout.kind == "contacts":
        marker = values.get("kind", "").strip().casefold()
        kind = "company" if marker in (KIND_COMPANY, "company", "компании") else "contact"
        if marker and marker not in (KIND_COMPANY, KIND_CONTACT, "company", "contact", "компании", "контакты"):
            return SourceRow(
                line=line, kind=kind, values=values, error=f"«Тип» is {values['kind']!r}; expected контакт or компания"
            )
    if "name" not in values and ("first_name" in values or "last_name" in values):
        values["name"] = " ".join(x for x in (values.get("first_name"), values.get("last_name")) if x)
    return SourceRow(line=line, kind=kind, values=values, lists=lists, fingerprint=_fingerprint(kind, cells))


# -- vCard ------------------------------------------------------------------------


def _vcard_chunks(path: Path) -> Iterator[tuple[int, str]]:
    """(first line, text) of each BEGIN:VCARD ... END:VCARD block."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        block: list[str] = []
        start = 0
        for number, line in enumerate(handle, 1):
            stripped = line.strip().upper()
            if stripped == "BEGIN:VCARD":
                block, start = [line], number
            elif block:
                block.append(line)
                if stripped == "END:VCARD":
                    yield start, "".join(block)
                    block = []
        if block:
            yield start, "".join(block)  # no END:VCARD: reported as malformed


def _vcard_rows(path: Path) -> Iterator[SourceRow]:
    import vobject

    for line, text in _vcard_chunks(path):
        try:
            card = vobject.readOne(text)
            row = _row_from_card(line, card)
        except Exception as exc:  # vobject raises its own ParseError and others on bad cards
            yield SourceRow(line=line, kind="contact", error=f"unreadable vCard ({str(exc).splitlines()[0][:80]})")
            continue
        row.fingerprint = _fingerprint("vcard", [text])
        yield row


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value if v)
    return str(value or "").strip()


def _row_from_card(line: int, card: object) -> SourceRow:
    contents: Mapping[str, list[object]] = card.contents  # type: ignore[attr-defined]
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    if "fn" in contents:
        values["name"] = _text(contents["fn"][0].value)  # type: ignore[attr-defined]
    elif "n" in contents:
        n = contents["n"][0].value  # type: ignore[attr-defined]
        values["name"] = " ".join(x for x in (_text(n.given), _text(n.family)) if x)
    for key, target in (("title", "position"), ("bday", "birthday"), ("role", "department")):
        if key in contents:
            values[target] = _text(contents[key][0].value)  # type: ignore[attr-defined]
    if "org" in contents:
        org = contents["org"][0].value  # type: ignore[attr-defined]
        values["company"] = _text(org[0] if isinstance(org, list) and org else org)
    for key, target in (("tel", "phone"), ("email", "email"), ("note", "note")):
        for item in contents.get(key, []):
            text = _text(item.value)  # type: ignore[attr-defined]
            if text:
                lists.setdefault(target, []).append(text)
    return SourceRow(line=line, kind="contact", values=values, lists=lists)


# -- opening ------------------------------------------------------------------------


def _header(path: Path, dialect: CsvDialect) -> list[str]:
    with path.open("r", encoding=dialect.encoding, errors="replace", newline="") as handle:
        try:
            return next(csv.reader(handle, delimiter=dialect.delimiter))
        except (StopIteration, csv.Error) as exc:
            raise ValidationError("file", f"{path.name} has no header row; the first line must name the columns") from exc


def is_vcard(path: Path) -> bool:
    if path.suffix.lower() in (".vcf", ".vcard"):
        return True
    with path.open("rb") as handle:
        return handle.read(64).lstrip(b"\xef\xbb\xbf \r\n").upper().startswith(b"BEGIN:VCARD")


def open_source(
    path: Path,
    *,
    kind: str | None,
    custom_labels: Mapping[str, Mapping[str, str]],
    columns: Mapping[str, str] | None = None,
) -> Source:
    """Open a file: vCard, an amoCRM export, or a CSV with ``columns`` (a profile's mapping)."""
    if not path.exists():
        raise ValidationError("file", f"{path} does not exist; check the path")
    if is_vcard(path):
        if kind == "deals":
            raise ValidationError("type", "a vCard holds contacts; use --type contacts")
        return Source(path=path, format="vcard", kind="contacts")
    dialect = detect(path)
    headers = _header(path, dialect)
    if columns:
        layout = mapped_layout(headers, columns, kind or "contacts")
        fmt = "csv"
    else:
        layout = read_layout(headers, custom_labels, kind)
        fmt = "amocrm"
        if layout.kind is None:
            raise ValidationError(
                "file",
                f"{path.name} is not an amoCRM export (no «Название сделки», «Тип» or «Наименование» column); "
                "map its columns with --map PROFILE (crm import map --help)",
            )
    if kind and layout.kind != kind:
        raise ValidationError(
            "type", f"{path.name} looks like a {layout.kind} export, not {kind}; drop --type or pick the other file"
        )
    needed = ("name", "pipeline", "stage") if layout.kind == "deals" else ("name",)
    have = set(layout.targets)
    if "name" not in have and {"first_name", "last_name"} & have:
        have.add("name")
    missing = [n for n in needed if n not in have]
    if missing:
        raise ValidationError("file", f"{path.name} has no column for {', '.join(missing)}; map one with --map PROFILE")
    return Source(path=path, format=fmt, kind=layout.kind or "contacts", dialect=dialect, layout=layout)
