"""Pipelines, stages, gates and automatic-task rules as data.

Parsed from the pipelines TOML (a dict here: domain does no I/O). The gate
rule: entering a stage requires its own fields plus those of every earlier
working stage; a lost stage requires only its own (a deal may be lost at any
point); unsorted and lead stages require nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui_crm.domain.errors import ConfigError
from tui_crm.domain.fields import FieldDef, FieldType

STAGE_KINDS = ("unsorted", "lead", "normal", "won", "lost")

BUILTIN_DEAL_FIELDS: dict[str, FieldDef] = {
    "budget_rub": FieldDef(key="budget_rub", label="Бюджет (RUB)", type=FieldType.MONEY, currency="RUB"),
    "budget_usd": FieldDef(key="budget_usd", label="Бюджет ($)", type=FieldType.MONEY, currency="USD"),
    "loss_reason": FieldDef(key="loss_reason", label="Причина отказа", type=FieldType.TEXT),
    "company.inn": FieldDef(key="company.inn", label="ИНН компании", type=FieldType.TEXT, entity="company"),
}


MAX_AUTO_TASK_DAYS = 3650


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
        if int(number) > MAX_AUTO_TASK_DAYS:
            raise ConfigError(f"auto_task due {self.due!r}: at most +{MAX_AUTO_TASK_DAYS}d (ten years)")
        return int(number), working


@dataclass(frozen=True)
class StageDef:
    key: str
    name: str
    kind: str = "normal"
    requires: tuple[str, ...] = ()
    auto_task: AutoTaskRule | None = None


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

    def pipeline(self, key: str) -> PipelineDef:
        for pipeline in self.pipelines:
            if pipeline.key == key:
                return pipeline
        raise ConfigError(f"no pipeline {key!r}")

    def deal_field(self, key: str) -> FieldDef:
        if key in BUILTIN_DEAL_FIELDS:
            return BUILTIN_DEAL_FIELDS[key]
        if key in self.fields:
            return self.fields[key]
        raise ConfigError(f"unknown field {key!r}")

    def custom_fields_for(self, entity: str) -> Mapping[str, FieldDef]:
        return {"deal": self.fields, "company": self.company_fields, "contact": self.contact_fields}[entity]


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


def parse_pipeline_config(data: Mapping[str, Any]) -> PipelineConfig:
    """Build and check the config; a mistake names the pipeline and stage."""
    raw_fields = data.get("fields", {})
    deal_fields = _field_defs("deal", raw_fields.get("deal", {}))
    known = set(deal_fields) | set(BUILTIN_DEAL_FIELDS)
    pipelines: list[PipelineDef] = []
    for raw in data.get("pipelines", []):
        if "key" not in raw or "name" not in raw:
            raise ConfigError("every [[pipelines]] entry needs key and name")
        stages: list[StageDef] = []
        for st in raw.get("stages", []):
            where = f"pipeline {raw['key']!r}, stage {st.get('key')!r}"
            kind = st.get("kind", "normal")
            if kind not in STAGE_KINDS:
                raise ConfigError(f"{where}: kind must be one of {', '.join(STAGE_KINDS)}")
            unknown = [k for k in st.get("requires", []) if k not in known]
            if unknown:
                raise ConfigError(f"{where}: unknown required field(s) {', '.join(unknown)}")
            rule = st.get("auto_task")
            auto = (
                AutoTaskRule(text=rule["text"], due=rule.get("due", "+1d"), task_type=rule.get("type", "follow-up"))
                if rule
                else None
            )
            if auto is not None:
                auto.due_offset()  # refuse a bad due at load, not at the first move into the stage
            if auto:
                auto.due_offset()
            stages.append(
                StageDef(key=st["key"], name=st["name"], kind=kind, requires=tuple(st.get("requires", [])), auto_task=auto)
            )
        for kind in ("lead", "won", "lost"):
            if sum(1 for s in stages if s.kind == kind) != 1:
                raise ConfigError(f"pipeline {raw['key']!r} needs exactly one stage of kind {kind!r}")
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
    )
