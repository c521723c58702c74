"""Pipelines and stages: mirror the TOML into tables, look them up."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import text
from sqlmodel import Session, select

from tui_crm.domain.errors import NotFoundError
from tui_crm.domain.pipelines import PipelineConfig, PipelineDef
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm, default_pipelines_text, parse_pipelines_text, pipelines_text
from tui_crm.services.views import PipelineView, StageView
from tui_crm.storage.models import CustomFieldDef, Pipeline, Stage
from tui_crm.storage.unit_of_work import UnitOfWork


def apply_pipeline_config(work: UnitOfWork, config: PipelineConfig) -> None:
    """Upsert pipelines, stages and field definitions by their keys.

    Stages missing from the file are not deleted (deals may sit in them);
    they are tombstoned only when no live deal uses them.
    """
    session = work.session
    for p_sort, pdef in enumerate(config.pipelines):
        pipeline = session.exec(select(Pipeline).where(Pipeline.key == pdef.key)).first()
        if pipeline is None:
            pipeline = Pipeline(key=pdef.key, name=pdef.name, sort=p_sort)
            work.create(pipeline)
            session.flush()
        else:
            work.update(pipeline, name=pdef.name, sort=p_sort, deleted_at=None)
        existing = {s.key: s for s in session.exec(select(Stage).where(Stage.pipeline_id == pipeline.id))}
        for s_sort, sdef in enumerate(pdef.stages):
            stage = existing.pop(sdef.key, None)
            if stage is None:
                work.create(Stage(pipeline_id=pipeline.id, key=sdef.key, name=sdef.name, sort=s_sort, kind=sdef.kind))
            else:
                work.update(stage, name=sdef.name, sort=s_sort, kind=sdef.kind, deleted_at=None)
        for stage in existing.values():
            work.soft_delete(stage)
    for entity in ("deal", "company", "contact"):
        for sort, fdef in enumerate(config.custom_fields_for(entity).values()):
            row = session.exec(
                select(CustomFieldDef).where(CustomFieldDef.entity == entity, CustomFieldDef.key == fdef.key)
            ).first()
            values = dict(
                label=fdef.label,
                field_type=fdef.type.value,
                options_json=json.dumps(list(fdef.options), ensure_ascii=False),
                sort=sort,
            )
            if row is None:
                work.create(CustomFieldDef(entity=entity, key=fdef.key, **values))
            else:
                work.update(row, **values)
    session.flush()


_FINGERPRINT = text(
    "SELECT (SELECT count(*) || '/' || max(updated_at) FROM pipeline), (SELECT count(*) || '/' || max(updated_at) FROM stage)"
)
_cache: dict[str, tuple[tuple[object, ...], list[PipelineView]]] = {}


def list_pipelines(crm: Crm) -> list[PipelineView]:
    """Pipelines with their stages (shared objects: do not mutate them).

    The board asks for them once per column; they change rarely (a TOML
    reload, a sync), so they are cached per database and re-read whenever
    any writer (another process included) has touched the two tables.
    """
    with crm.read() as session:
        fingerprint = tuple(session.connection().execute(_FINGERPRINT).one())
        cached = _cache.get(str(crm.settings.db_path))
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        views = _pipeline_views(session)
    _cache[str(crm.settings.db_path)] = (fingerprint, views)
    return views


def _pipeline_views(session: Session) -> list[PipelineView]:
    pipelines = session.exec(select(Pipeline).where(Pipeline.deleted_at.is_(None)).order_by(Pipeline.sort)).all()  # type: ignore[union-attr]
    stages = session.exec(select(Stage).where(Stage.deleted_at.is_(None)).order_by(Stage.sort)).all()  # type: ignore[union-attr]
    return [
        PipelineView(
            id=p.id,
            key=p.key,
            name=p.name,
            stages=[StageView(s.id, s.key, s.name, s.kind, s.sort) for s in stages if s.pipeline_id == p.id],
        )
        for p in pipelines
    ]


def find_pipeline(crm: Crm, ref: str | None) -> PipelineView:
    """A pipeline by key, name or name prefix (any case); default if None."""
    views = list_pipelines(crm)
    wanted = ref or crm.settings.default_pipeline
    key = fold(wanted)
    for view in views:
        if view.key == wanted or fold(view.name) == key:
            return view
    matches = [v for v in views if fold(v.name).startswith(key) or v.key.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(f"{v.name} ({v.key})" for v in views)
    raise NotFoundError(f"No pipeline {wanted!r}. Pipelines: {names}")


def find_stage(pipeline: PipelineView, ref: str) -> StageView:
    """A stage by key, name, name prefix or 1-based position."""
    key = fold(ref)
    for stage in pipeline.stages:
        if stage.key == ref or fold(stage.name) == key:
            return stage
    if ref.isdigit() and 1 <= int(ref) <= len(pipeline.stages):
        return pipeline.stages[int(ref) - 1]
    matches = [s for s in pipeline.stages if fold(s.name).startswith(key) or s.key.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(f"{s.name} ({s.key})" for s in pipeline.stages)
    raise NotFoundError(f"No stage {ref!r} in «{pipeline.name}». Stages: {names}")


def pipeline_def(crm: Crm, key: str) -> PipelineDef:
    return crm.pipelines.pipeline(key)


def ensure_user_pipelines_file(crm: Crm) -> str:
    """Copy the shipped defaults to the config dir so the user can edit them."""
    path = crm.settings.pipelines_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_pipelines_text(), encoding="utf-8")
    return str(path)


def reload_pipelines(crm: Crm) -> list[PipelineView]:
    """Re-read the TOML, validate it whole, then apply it."""
    config = parse_pipelines_text(pipelines_text(crm.settings), str(crm.settings.pipelines_file))
    with crm.uow() as work:
        apply_pipeline_config(work, config)
    crm.pipelines = config
    return list_pipelines(crm)


def restore_default_pipelines(crm: Crm) -> str:
    path = crm.settings.pipelines_file
    if path.exists():
        shutil.copyfile(path, path.with_suffix(".toml.old"))
        path.unlink()
    reload_pipelines(crm)
    return str(path)
