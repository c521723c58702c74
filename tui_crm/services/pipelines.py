"""Pipelines and stages: mirror the TOML into tables, look them up.

The configuration in effect is the text last applied, stored in the
database (``setting`` rows ``pipelines_toml`` and ``pipelines_sha256``).
Opening a store (:func:`load_pipelines`) uses it; the user's file takes
effect on ``crm pipelines reload`` (:func:`reload_pipelines`) only, so an
edit half-done or a broken file never stops the app or the CLI. A reload
that drops a stage or a pipeline still holding deals is refused unless
told where they go (``--move-to``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from tui_crm.domain.errors import ConfigError, GateRefused, NotFoundError
from tui_crm.domain.pipelines import PipelineConfig, PipelineDef, StageDef
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm, default_pipelines_text, parse_pipelines_text, pipelines_text
from tui_crm.services.views import PipelineView, StageView
from tui_crm.storage.models import CustomFieldDef, Deal, Pipeline, Setting, Stage
from tui_crm.storage.settings import put_setting
from tui_crm.storage.unit_of_work import UnitOfWork

TEXT_KEY = "pipelines_toml"
SHA_KEY = "pipelines_sha256"


def apply_pipeline_config(work: UnitOfWork, config: PipelineConfig) -> None:
    """Upsert pipelines, stages and field definitions by their keys.

    Stages and pipelines missing from the file are tombstoned when no live
    deal is in them; the others stay until their deals have moved
    (:func:`reload_pipelines` moves them first or refuses).
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
    _tombstone_empty(work, config)


def _tombstone_empty(work: UnitOfWork, config: PipelineConfig) -> None:
    """Tombstone the stages and pipelines ``config`` dropped that hold no live deal."""
    for dropped in dropped_places(work.session, config):
        if dropped.deals:
            continue
        stage = work.session.get(Stage, dropped.stage_id)
        assert stage is not None
        work.soft_delete(stage)
    wanted = {p.key for p in config.pipelines}
    for pipeline in work.session.exec(select(Pipeline).where(col(Pipeline.deleted_at).is_(None))).all():
        if pipeline.key in wanted:
            continue
        live = work.session.exec(
            select(func.count()).select_from(Stage).where(Stage.pipeline_id == pipeline.id, col(Stage.deleted_at).is_(None))
        ).one()
        if not live:
            work.soft_delete(pipeline)
    work.session.flush()


@dataclass
class DroppedStage:
    """A live stage the new configuration no longer has, and its live deals."""

    stage_id: str
    pipeline_key: str
    pipeline_name: str
    stage_key: str
    stage_name: str
    deals: int

    @property
    def ref(self) -> str:
        return f"{self.pipeline_key}/{self.stage_key}"


def dropped_places(session: Session, config: PipelineConfig) -> list[DroppedStage]:
    """Live stages (of live pipelines) ``config`` drops, with their live deal counts."""
    kept = {(p.key, s.key) for p in config.pipelines for s in p.stages}
    counts = dict(
        session.exec(
            select(Deal.stage_id, func.count()).where(col(Deal.deleted_at).is_(None)).group_by(Deal.stage_id)
        ).all()
    )
    rows = session.exec(
        select(Stage, Pipeline)
        .join(Pipeline, col(Pipeline.id) == col(Stage.pipeline_id))
        .where(col(Stage.deleted_at).is_(None), col(Pipeline.deleted_at).is_(None))
        .order_by(Pipeline.sort, Stage.sort)
    ).all()
    return [
        DroppedStage(stage.id, pipeline.key, pipeline.name, stage.key, stage.name, int(counts.get(stage.id, 0)))
        for stage, pipeline in rows
        if (pipeline.key, stage.key) not in kept
    ]


_FINGERPRINT = text(
    "SELECT (SELECT count(*) || '/' || total(revision) || '/' || max(updated_at) FROM pipeline),"
    " (SELECT count(*) || '/' || total(revision) || '/' || max(updated_at) FROM stage),"
    " (SELECT value FROM setting WHERE key = 'pipelines_sha256')"
)  # revisions too: two writes within one clock tick (a frozen test clock) still differ
_cache: dict[str, tuple[tuple[object, ...], list[PipelineView]]] = {}


def list_pipelines(crm: Crm) -> list[PipelineView]:
    """Pipelines with their stages (shared objects: do not mutate them).

    The board asks for them once per column; they change rarely (a TOML
    reload, a sync), so they are cached per database and re-read whenever
    any writer (another process included) has touched the two tables. A
    reload made elsewhere (``crm pipelines reload`` while the app runs)
    brings its gates into this ``crm`` too.
    """
    with crm.read() as session:
        fingerprint = tuple(session.connection().execute(_FINGERPRINT).one())
        if fingerprint[2] and fingerprint[2] != crm.pipelines_sha:
            stored = session.get(Setting, TEXT_KEY)
            if stored is not None:
                crm.pipelines = parse_pipelines_text(stored.value, "the stored pipelines configuration")
                crm.pipelines_sha = str(fingerprint[2])
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


def ensure_user_pipelines_file(crm: Crm) -> str:
    """Copy the shipped defaults to the config dir so the user can edit them."""
    path = crm.settings.pipelines_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_pipelines_text(), encoding="utf-8")
    return str(path)


@dataclass
class ReloadReport:
    """What a reload did: the pipelines now in effect, the deals it moved
    out of dropped stages, and the stages it dropped."""

    pipelines: list[PipelineView]
    moved: dict[str, int] = field(default_factory=dict)  # "from → to": deals
    dropped: list[str] = field(default_factory=list)  # "pipeline/stage"
    path: str = ""


def _digest(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


def _store_text(crm: Crm, work: UnitOfWork, text_: str) -> None:
    """Keep ``text_`` as the configuration in effect (``crm.pipelines`` is its parse)."""
    crm.pipelines_sha = _digest(text_)
    for key, value in ((TEXT_KEY, text_), (SHA_KEY, crm.pipelines_sha)):
        put_setting(work.session, key, value)


def _stored_text(crm: Crm) -> tuple[str | None, str | None]:
    """(text, sha256) of the configuration last applied to this store."""
    with crm.read() as session:
        stored = session.get(Setting, TEXT_KEY)
        digest = session.get(Setting, SHA_KEY)
    return (stored.value if stored else None), (digest.value if digest else None)


def load_pipelines(crm: Crm) -> None:
    """Set ``crm.pipelines`` on opening: the configuration last applied.

    The file (the user's, else the shipped default) is applied here only
    when the store has none yet, or when the user has no file of their own
    and the shipped default changed (a new release), and then only when it
    drops no stage that holds deals. Otherwise a file that differs waits
    for ``crm pipelines reload``; a broken one adds a notice.
    """
    origin = str(crm.settings.pipelines_file)
    user_file = crm.settings.pipelines_file.exists()
    stored, digest = _stored_text(crm)
    if crm.read_only:  # the user made the file read-only: use what it holds, write nothing
        crm.pipelines = parse_pipelines_text(stored or default_pipelines_text(), "the stored pipelines configuration")
        return
    try:
        text_ = pipelines_text(crm.settings)
        config: PipelineConfig | None = parse_pipelines_text(text_, origin if user_file else "the shipped pipelines file")
        problem = None
    except ConfigError as exc:
        text_, config, problem = "", None, str(exc)
    if config is not None and digest == _digest(text_):
        crm.pipelines, crm.pipelines_sha = config, digest
        if stored is None:  # made before the text was kept: keep it now
            with crm.uow() as work:
                _store_text(crm, work, text_)
        return
    last_good = parse_pipelines_text(stored, "the stored pipelines configuration") if stored else None
    may_apply = config is not None and (last_good is None or not user_file)
    if may_apply and config is not None:
        with crm.read() as session:
            blocked = [d for d in dropped_places(session, config) if d.deals]
        if not blocked:
            crm.pipelines = config
            with crm.uow() as work:
                apply_pipeline_config(work, config)
                _store_text(crm, work, text_)
            return
        problem = (
            f"the pipelines file drops {_places(blocked)}, which still hold deals; "
            "say where they go: crm pipelines reload --move-to PIPELINE/STAGE"
        )
    if last_good is None:  # nothing applied yet and the file is broken: the shipped default
        last_good = parse_pipelines_text(default_pipelines_text(), "the shipped pipelines file")
        with crm.uow() as work:
            apply_pipeline_config(work, last_good)
            _store_text(crm, work, default_pipelines_text())
    crm.pipelines = last_good
    if not crm.pipelines_sha:
        crm.pipelines_sha = digest or ""
    if problem:
        crm.notices.append(f"{problem} — working with the last good pipelines configuration until: crm pipelines reload")


def pending_pipelines_edit(crm: Crm) -> bool:
    """True when the file differs from the configuration in effect (a reload would apply it)."""
    try:
        text_ = pipelines_text(crm.settings)
    except ConfigError:
        return True
    return _stored_text(crm)[1] != _digest(text_)


def _places(dropped: Sequence[DroppedStage]) -> str:
    """«Продажи 2.0 › Оценка» (sales20/estimate, 3 deals), …"""
    return ", ".join(
        f"«{d.pipeline_name} › {d.stage_name}» ({d.ref}, {d.deals} deal{'s' if d.deals != 1 else ''})" for d in dropped
    )


def _target_stage(config: PipelineConfig, ref: str) -> tuple[PipelineDef, StageDef]:
    """``PIPELINE/STAGE`` (keys or names, any case) in the new configuration."""
    pipeline_ref, sep, stage_ref = ref.partition("/")
    pipeline = next((p for p in config.pipelines if p.key == pipeline_ref or fold(p.name) == fold(pipeline_ref)), None)
    stage = (
        next((s for s in pipeline.stages if s.key == stage_ref or fold(s.name) == fold(stage_ref)), None) if pipeline else None
    )
    if not sep or pipeline is None or stage is None:
        known = ", ".join(f"{p.key}/{s.key}" for p in config.pipelines for s in p.stages if s.kind != "unsorted")
        raise ConfigError(f"--move-to {ref!r}: no such stage in the new file; use PIPELINE/STAGE, one of: {known}")
    if stage.kind == "unsorted":
        raise ConfigError(f"--move-to {ref!r}: Неразобранное is an inbox, not a stage deals can be moved into")
    return pipeline, stage


Place = tuple[PipelineDef, StageDef]


def _destinations(config: PipelineConfig, blocked: list[DroppedStage], move_to: Sequence[str]) -> dict[str, Place]:
    """Where each blocked stage's deals go: ``TARGET`` for all, or ``FROM=TARGET``
    (FROM a dropped ``pipeline/stage`` or a whole dropped ``pipeline``)."""
    default: Place | None = None
    chosen: dict[str, Place] = {}
    for item in move_to:
        source, sep, target = item.partition("=")
        if not sep:
            default = _target_stage(config, item.strip())
            continue
        resolved = _target_stage(config, target.strip())
        source = source.strip()
        matched = [d for d in blocked if source in (d.ref, d.pipeline_key)]
        if not matched:
            holding = _places(blocked)
            raise ConfigError(f"--move-to {item!r}: {source!r} is not a dropped stage holding deals; those are: {holding}")
        for d in matched:
            chosen[d.ref] = resolved
    if default is not None:
        for d in blocked:
            chosen.setdefault(d.ref, default)
    unplaced = [d for d in blocked if d.ref not in chosen]
    if unplaced:
        raise ConfigError(
            f"the pipelines file drops {_places(unplaced)}, which still hold deals; nothing changed. "
            "Say where they go: crm pipelines reload --move-to PIPELINE/STAGE (or FROM=PIPELINE/STAGE for each)"
        )
    return chosen


def _relocate(crm: Crm, work: UnitOfWork, dropped: DroppedStage, to: Place) -> int:
    """Move the deals of a dropped stage as any move does (``deals.move_in``: the
    target's gate, its automatic task, the closing rate); ``crm.pipelines`` is
    already the new configuration."""
    from tui_crm.services.deals import move_in

    session = work.session
    pdef, sdef = to
    pipeline = session.exec(select(Pipeline).where(Pipeline.key == pdef.key)).one()
    stage = session.exec(select(Stage).where(Stage.pipeline_id == pipeline.id, Stage.key == sdef.key)).one()
    deals = session.exec(select(Deal).where(Deal.stage_id == dropped.stage_id, col(Deal.deleted_at).is_(None))).all()
    for deal in deals:
        try:
            move_in(crm, work, deal, stage, pdef.key)
        except GateRefused as refused:
            labels = ", ".join(m.label for m in refused.missing)
            raise ConfigError(
                f"cannot move «{deal.name}» from {dropped.ref} to {pdef.key}/{sdef.key}: its gate needs {labels}; "
                "nothing changed. Choose an earlier stage, or fill the fields first"
            ) from None
    return len(deals)


def reload_pipelines(crm: Crm, move_to: Sequence[str] = ()) -> ReloadReport:
    """Re-read the TOML, validate it whole, then apply it in one transaction.

    A stage or pipeline the file drops while it holds deals is refused
    unless ``move_to`` says where they go; then they move there (through
    the target's gate) and the stage is tombstoned.
    """
    origin = str(crm.settings.pipelines_file)
    text_ = pipelines_text(crm.settings)
    config = parse_pipelines_text(text_, origin)
    report = ReloadReport(pipelines=[], path=origin)
    previous = crm.pipelines
    try:
        with crm.uow() as work:
            dropped = dropped_places(work.session, config)
            blocked = [d for d in dropped if d.deals]
            destinations = _destinations(config, blocked, move_to) if blocked else {}
            apply_pipeline_config(work, config)
            crm.pipelines = config  # the moves below follow the new file's gates and rules
            for d in blocked:
                pdef, sdef = destinations[d.ref]
                report.moved[f"{d.ref} → {pdef.key}/{sdef.key}"] = _relocate(crm, work, d, destinations[d.ref])
            _tombstone_empty(work, config)
            _store_text(crm, work, text_)
    except BaseException:
        crm.pipelines = previous  # nothing was applied
        raise
    report.dropped = [d.ref for d in dropped]
    report.pipelines = list_pipelines(crm)
    return report


@dataclass
class ReasonCount:
    """How many lost deals give one loss reason (``«Другое»`` gathers the free texts)."""

    reason: str
    deals: int
    listed: bool = True  # False: a reason not in the pipelines file (older data, a sync)


def loss_reason_counts(crm: Crm, pipeline_ref: str | None = None) -> list[ReasonCount]:
    """Lost deals by reason, every listed reason included (zero too), most first.

    Counted in SQL (one GROUP BY over the lost stages); «Другое: …» texts
    count under «Другое».
    """
    reasons = crm.pipelines.loss_reasons
    other = crm.pipelines.loss_other
    pipelines = [find_pipeline(crm, pipeline_ref)] if pipeline_ref else list_pipelines(crm)
    lost = [s.id for p in pipelines for s in p.stages if s.kind == "lost"]
    with crm.read() as session:
        rows = session.exec(
            select(Deal.loss_reason, func.count())
            .where(col(Deal.stage_id).in_(lost), col(Deal.deleted_at).is_(None))
            .group_by(Deal.loss_reason)
        ).all()
    options = list(reasons.options) if reasons else []
    counts = dict.fromkeys(options, 0)
    unlisted: dict[str, int] = {}
    for reason, n in rows:
        text_ = (reason or "").strip() or "—"
        key = other if other and text_.startswith(f"{other}:") else text_
        if key in counts:
            counts[key] += n
        else:
            unlisted[key] = unlisted.get(key, 0) + n
    result = [ReasonCount(r, n) for r, n in counts.items()] + [ReasonCount(r, n, listed=False) for r, n in unlisted.items()]
    return sorted(result, key=lambda c: -c.deals)
