"""Pipelines, stages, gates and automatic-task rules as data.

Parsed from the pipelines TOML (a dict here: domain does no I/O). The gate
rule: entering a stage requires its own fields plus those of every earlier
working stage; a lost stage requires only its own (a deal may be lost at any
point); unsorted and lead stages require nothing.

Loss reasons are a select list (``[fields.deal.loss_reason]``) whose
``other`` option takes the user's own words, stored as «Другое: …», so
reasons can be counted. ``[closing] sum_field`` names the RUB field the
Won form fills from budget_usd at the Bank of Russia's rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from tui_crm.domain.errors import ConfigError, ValidationError
from tui_crm.domain.fields import FieldDef, FieldType
from tui_crm.domain.text import fold, preview

STAGE_KINDS = ("unsorted", "lead", "normal", "won", "lost")
MAX_DUE_DAYS = 3650  # an automatic task at most ten years ahead: beyond that a date overflows nothing useful

BUILTIN_DEAL_FIELDS: dict[str, FieldDef] = {
    "budget_rub": FieldDef(key="budget_rub", label="Бюджет (RUB)", type=FieldType.MONEY, currency="RUB"),
    "budget_usd": FieldDef(key="budget_usd", label="Бюджет ($)", type=FieldType.MONEY, currency="USD"),
    "loss_reason": FieldDef(key="loss_reason", label="Причина отказа", type=FieldType.TEXT),
    "company.inn": FieldDef(key="company.inn", label="ИНН компании", type=FieldType.TEXT, entity="company"),
}


@dataclass(frozen=True)
class AutoTaskRule:
    text: str
    due: str  # "+3d" or "+1wd"
    task_type: str = "follow-up"

    def due_offset(self) -> tuple[int, bool]:
        """(amount, working_days) parsed from ``due``."""
        raw = self.due.strip().lstrip("+")
        working = raw.endswith("wd")
        number = raw[:-2] if working else raw.rstrip("d")
        if not (number.isascii() and number.isdigit()):
            raise ConfigError(f"auto_task due {self.due!r}: use '+3d' or '+1wd'")
        if int(number) > MAX_DUE_DAYS:
            raise ConfigError(f"auto_task due {self.due!r} is out of range: use +0d … +{MAX_DUE_DAYS}d (or +{MAX_DUE_DAYS}wd)")
        return int(number), working


@dataclass(frozen=True)
class AutoTaskTiming:
    """The ``[auto_tasks]`` table: automatic tasks are due on working days of
    ``country``'s production calendar, at ``working_hour`` local time."""

    country: str = "RU"
    working_hour: time = time(10, 0)


def parse_auto_task_timing(raw: Mapping[str, Any]) -> AutoTaskTiming:
    """``[auto_tasks]`` with ``working_hour = "10:00"`` and ``calendar = "RU"``."""
    hour = str(raw.get("working_hour", "10:00")).strip()
    parts = hour.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) > 23 or int(parts[1]) > 59:
        raise ConfigError(f"[auto_tasks] working_hour {hour!r}: use HH:MM, e.g. \"10:00\"")
    country = str(raw.get("calendar", "RU")).strip().upper()
    if not country.isalpha() or len(country) != 2:
        raise ConfigError(f"[auto_tasks] calendar {country!r}: use a two-letter country code, e.g. \"RU\"")
    return AutoTaskTiming(country=country, working_hour=time(int(parts[0]), int(parts[1])))


@dataclass(frozen=True)
class StageDef:
    key: str
    name: str
    kind: str = "normal"
    requires: tuple[str, ...] = ()
    auto_task: AutoTaskRule | None = None
    probability: int | None = None  # percent a deal here is won, for the weighted forecast (reports)


@dataclass(frozen=True)
class PipelineDef:
    key: str
    name: str
    department: str = ""
    stages: tuple[StageDef, ...] = ()

    def stage(self, key: str) -> StageDef:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise ConfigError(f"pipeline {self.name!r} has no stage {key!r}")

    def stage_index(self, key: str) -> int:
        return [s.key for s in self.stages].index(key)

    def stage_by_kind(self, kind: str) -> StageDef | None:
        return next((s for s in self.stages if s.kind == kind), None)

    def required_fields(self, stage_key: str) -> list[str]:
        """Every field a deal must have to enter ``stage_key``, in order."""
        target = self.stage(stage_key)
        if target.kind == "lost":
            return list(target.requires)
        keys: list[str] = []
        for stage in self.stages[: self.stage_index(stage_key) + 1]:
            if stage.kind == "lost":
                continue
            keys.extend(k for k in stage.requires if k not in keys)
        return keys


@dataclass(frozen=True)
class PipelineConfig:
    pipelines: tuple[PipelineDef, ...]
    fields: Mapping[str, FieldDef] = field(default_factory=dict)  # deal custom fields by key
    company_fields: Mapping[str, FieldDef] = field(default_factory=dict)
    contact_fields: Mapping[str, FieldDef] = field(default_factory=dict)
    auto_tasks: AutoTaskTiming = AutoTaskTiming()
    loss_reasons: FieldDef | None = None  # a select; None: free text
    loss_other: str | None = None  # the option that takes free text ("Другое")
    closing_sum_field: str | None = None  # RUB money field the Won form proposes from the rate

    def pipeline(self, key: str) -> PipelineDef:
        for pipeline in self.pipelines:
            if pipeline.key == key:
                return pipeline
        raise ConfigError(f"no pipeline {key!r}")

    def deal_field(self, key: str) -> FieldDef:
        if key == "loss_reason" and self.loss_reasons is not None:
            return self.loss_reasons
        if key in BUILTIN_DEAL_FIELDS:
            return BUILTIN_DEAL_FIELDS[key]
        if key in self.fields:
            return self.fields[key]
        raise ConfigError(f"unknown field {key!r}")

    def custom_fields_for(self, entity: str) -> Mapping[str, FieldDef]:
        return {"deal": self.fields, "company": self.company_fields, "contact": self.contact_fields}[entity]

    def other_option(self, key: str) -> str | None:
        """The option of field ``key`` that takes free text, if any."""
        return self.loss_other if key == "loss_reason" and self.loss_reasons is not None else None

    def closing_fields(self) -> set[str]:
        """Fields that describe how a deal was closed: a copy never takes them."""
        return {"loss_reason", *([self.closing_sum_field] if self.closing_sum_field else [])}

    def loss_reason_value(self, raw: str) -> str:
        """The stored loss reason for what the user typed or picked.

        One of the options (any case, or a prefix only one option has), or
        the free-text option with words: «Другое: клиент закрылся».
        """
        text = raw.strip()
        defn = self.loss_reasons
        if defn is None:
            return text
        other = self.loss_other
        choices = ", ".join(defn.options)
        hint = f"; or «{other}: your words»" if other else ""
        if other:
            head, sep, rest = text.partition(":")
            if fold(head) == fold(other) or fold(text).startswith(fold(other) + " "):
                words = rest.strip() if sep else text[len(other) :].strip(" -—:")
                if not words:
                    raise ValidationError(defn.label, f"say what the reason was: «{other}: клиент закрылся»")
                return f"{other}: {words}"
        wanted = fold(text)
        exact = [o for o in defn.options if fold(o) == wanted and o != other]
        prefixed = [o for o in defn.options if fold(o).startswith(wanted) and o != other]
        found = exact or (prefixed if len(prefixed) == 1 else [])
        if not found:
            raise ValidationError(defn.label, f"«{preview(text)}» is not a loss reason; choose one of: {choices}{hint}")
        return found[0]


def _field_defs(entity: str, raw: Mapping[str, Any]) -> dict[str, FieldDef]:
    defs: dict[str, FieldDef] = {}
    for key, spec in raw.items():
        try:
            field_type = FieldType(spec.get("type", "text"))
        except ValueError as exc:
            raise ConfigError(f"field {entity}.{key}: unknown type {spec.get('type')!r}") from exc
        defs[key] = FieldDef(
            key=key,
            label=str(spec.get("label", key)),
            type=field_type,
            options=tuple(spec.get("options", ())),
            entity=entity,
            currency=spec.get("currency"),
        )
    return defs


def _loss_reasons(raw: Mapping[str, Any] | None) -> tuple[FieldDef | None, str | None]:
    """The loss-reason select and its free-text option, from ``[fields.deal.loss_reason]``."""
    if raw is None:
        return None, None
    defn = _field_defs("deal", {"loss_reason": raw})["loss_reason"]
    if defn.type is not FieldType.SELECT:
        raise ConfigError('field deal.loss_reason: type must be "select" (a list of reasons, so they can be counted)')
    other = raw.get("other")
    if other is not None and other not in defn.options:
        raise ConfigError(f"field deal.loss_reason: other = {other!r} must be one of its options")
    return defn, other


def _closing_sum_field(raw: Mapping[str, Any], fields: Mapping[str, FieldDef]) -> str | None:
    """``[closing] sum_field``: a RUB money field (default ``closing_rub`` when defined)."""
    key = raw.get("sum_field", "closing_rub" if "closing_rub" in fields else None)
    if key is None or key == "":
        return None
    defn = fields.get(key)
    if defn is None or defn.type is not FieldType.MONEY or (defn.currency or "RUB") != "RUB":
        raise ConfigError(f"[closing] sum_field = {key!r}: must name a deal field of type money in RUB")
    return str(key)


def _probability(raw: Any, where: str, anchor: tuple[str, str | None, int]) -> int | None:
    """A stage's ``probability``: a whole percent 0-100 (the weighted forecast multiplies by it)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100:
        raise ConfigAt(f"{where}: probability {raw!r} must be a whole percent from 0 to 100, e.g. probability = 40", anchor)
    return raw


class ConfigAt(ConfigError):
    """A ConfigError about one pipeline or stage: ``anchor`` lets the
    caller that holds the text find its line (``line_of``)."""

    def __init__(self, message: str, anchor: tuple[str, str | None, int]) -> None:
        super().__init__(message)
        self.anchor = anchor  # (pipeline key, stage key or None, which occurrence: 1, 2…)


def line_of(text: str, anchor: tuple[str, str | None, int]) -> int | None:
    """The 1-based line of the ``key = "…"`` an anchor points at.

    The pipeline's n-th ``key = "pipeline"`` line (stage None), or inside
    it the n-th ``key = "stage"`` line. TOML parsers give no positions for
    parsed values, so the text is scanned for the assignments themselves.
    """
    pipeline_key, stage_key, nth = anchor
    in_pipeline = 0
    seen = 0
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[] ")
            continue
        name, sep, value = stripped.partition("=")
        if not sep or name.strip() != "key":
            continue
        value = value.split("#")[0].strip().strip("\"'")
        if section == "pipelines":
            in_pipeline = in_pipeline + 1 if value == pipeline_key else 0
            if stage_key is None and value == pipeline_key:
                seen += 1
                if seen == nth:
                    return number
        elif section == "pipelines.stages" and in_pipeline and stage_key is not None and value == stage_key:
            seen += 1
            if seen == nth:
                return number
    return None


def parse_pipeline_config(data: Mapping[str, Any]) -> PipelineConfig:
    """Build and check the config; a mistake names the pipeline and stage."""
    raw_fields = dict(data.get("fields", {}))
    raw_deal = dict(raw_fields.get("deal", {}))
    loss_reasons, loss_other = _loss_reasons(raw_deal.pop("loss_reason", None))
    deal_fields = _field_defs("deal", raw_deal)
    known = set(deal_fields) | set(BUILTIN_DEAL_FIELDS)
    pipelines: list[PipelineDef] = []
    for raw in data.get("pipelines", []):
        if "key" not in raw or "name" not in raw:
            raise ConfigError("every [[pipelines]] entry needs key and name")
        if any(p.key == raw["key"] for p in pipelines):
            raise ConfigAt(f"pipeline key {raw['key']!r} is used twice; keys must be unique", (raw["key"], None, 2))
        stages: list[StageDef] = []
        for st in raw.get("stages", []):
            where = f"pipeline {raw['key']!r}, stage {st.get('key')!r}"
            anchor = (raw["key"], st.get("key"), 1)
            if "key" not in st or "name" not in st:
                raise ConfigAt(f"pipeline {raw['key']!r}: every stage needs key and name", (raw["key"], None, 1))
            if any(s.key == st["key"] for s in stages):
                twice = f"{where}: the stage key is used twice in this pipeline; keys must be unique"
                raise ConfigAt(twice, (raw["key"], st["key"], 2))
            kind = st.get("kind", "normal")
            if kind not in STAGE_KINDS:
                raise ConfigAt(f"{where}: kind must be one of {', '.join(STAGE_KINDS)}", anchor)
            unknown = [k for k in st.get("requires", []) if k not in known]
            if unknown:
                raise ConfigAt(f"{where}: unknown required field(s) {', '.join(unknown)}", anchor)
            rule = st.get("auto_task")
            auto = (
                AutoTaskRule(text=rule["text"], due=rule.get("due", "+1d"), task_type=rule.get("type", "follow-up"))
                if rule
                else None
            )
            if auto:
                try:
                    auto.due_offset()
                except ConfigError as exc:
                    raise ConfigAt(f"{where}: {exc}", anchor) from None
            stages.append(
                StageDef(
                    key=st["key"],
                    name=st["name"],
                    kind=kind,
                    requires=tuple(st.get("requires", [])),
                    auto_task=auto,
                    probability=_probability(st.get("probability"), where, anchor),
                )
            )
        for kind in ("lead", "won", "lost"):
            if sum(1 for s in stages if s.kind == kind) != 1:
                raise ConfigAt(f"pipeline {raw['key']!r} needs exactly one stage of kind {kind!r}", (raw["key"], None, 1))
        pipelines.append(
            PipelineDef(key=raw["key"], name=raw["name"], department=raw.get("department", ""), stages=tuple(stages))
        )
    if not pipelines:
        raise ConfigError("the pipelines file defines no pipeline")
    return PipelineConfig(
        pipelines=tuple(pipelines),
        fields=deal_fields,
        company_fields=_field_defs("company", raw_fields.get("company", {})),
        contact_fields=_field_defs("contact", raw_fields.get("contact", {})),
        auto_tasks=parse_auto_task_timing(data.get("auto_tasks", {})),
        loss_reasons=loss_reasons,
        loss_other=loss_other,
        closing_sum_field=_closing_sum_field(data.get("closing", {}), deal_fields),
    )
