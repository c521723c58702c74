"""Which of our pipelines and stages a file's «Воронка» / «Этап сделки» is.

By name or key (any case, ё = е), else through the profile's
``[pipelines]`` / ``[stages]`` maps. What matches nothing is listed in the
dry run and either mapped (``--map``) or, with ``--create-stages``, added
to the user's pipelines TOML (the shipped file is copied first) and
applied: pipelines and stages are data, and the TOML is where they live.

What an import created is remembered under its id (a setting), so
``crm import undo`` can take those stages (and a pipeline it made) out of
the TOML again, unless a deal outside the import sits in them by then.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from tui_crm.domain.text import fold
from tui_crm.services.context import Crm, pipelines_text
from tui_crm.services.importing.profiles import Profile
from tui_crm.services.pipelines import list_pipelines, reload_pipelines
from tui_crm.services.views import PipelineView
from tui_crm.storage.models import Setting
from tui_crm.storage.settings import put_setting

_WON = {"успешно реализовано", "успешно", "won"}
_LOST = {"закрыто и не реализовано", "не реализовано", "lost"}
_UNSORTED = {"неразобранное", "unsorted"}


def _created_key(import_id: str) -> str:
    return f"import.created_stages.{import_id}"


@dataclass(frozen=True)
class Place:
    pipeline_id: str
    stage_id: str
    pipeline_key: str
    stage_key: str
    stage_name: str


class StageMap:
    def __init__(self, crm: Crm, profile: Profile | None) -> None:
        self.crm = crm
        self.profile = profile
        self.pipelines = list_pipelines(crm)
        self.seen: dict[tuple[str, str], tuple[str, str]] = {}  # folded -> as written, first seen order
        self.cache: dict[tuple[str, str], Place | None] = {}
        self.pretend = False
        # what create_unknown added: {"pipeline": key, "stage": key, "label": "P / S", "new_pipeline": bool}
        self.created: list[dict[str, Any]] = []

    def note(self, pipeline: str, stage: str) -> None:
        self.seen.setdefault((fold(pipeline.strip()), fold(stage.strip())), (pipeline.strip(), stage.strip()))

    def _pipeline(self, name: str) -> PipelineView | None:
        mapped = (self.profile.pipelines.get(name) if self.profile else None) or name
        for view in self.pipelines:
            if view.key == mapped or fold(view.name) == fold(mapped):
                return view
        return None

    def resolve(self, pipeline: str, stage: str) -> Place | None:
        key = (fold(pipeline.strip()), fold(stage.strip()))
        if key not in self.cache:
            self.cache[key] = self._resolve(pipeline.strip(), stage.strip())
        return self.cache[key]

    def _resolve(self, pipeline: str, stage: str) -> Place | None:
        view = self._pipeline(pipeline)
        if view is None:
            return None
        maps = self.profile.stages if self.profile else {}
        wanted = maps.get(f"{pipeline}/{stage}") or maps.get(stage) or stage
        if "/" in wanted and wanted not in (s.key for s in view.stages):
            wanted = wanted.split("/", 1)[1]
        for s in view.stages:
            if s.key == wanted or fold(s.name) == fold(wanted):
                return Place(view.id, s.id, view.key, s.key, s.name)
        return None

    def unknown(self) -> list[str]:
        return [f"{p} / {s}" for (fp, fs), (p, s) in self.seen.items() if self.resolve(p, s) is None]

    def pretend_created(self) -> None:
        """A dry run with --create-stages: rows in unknown stages count as written."""
        for p, s in list(self.seen.values()):
            if self.resolve(p, s) is None:
                self.cache[(fold(p), fold(s))] = Place("dry-run", "dry-run", "", "", s)

    def create_unknown(self) -> list[str]:
        """Add the unknown pipelines and stages to the user's TOML, then apply it."""
        missing = [(p, s) for (p, s) in self.seen.values() if self.resolve(p, s) is None]
        if not missing:
            return []
        data = tomllib.loads(pipelines_text(self.crm.settings))
        pipelines = data.setdefault("pipelines", [])
        made: set[str] = set()
        for pipeline, stage in missing:
            view = self._pipeline(pipeline)
            entry = next((p for p in pipelines if view is not None and p.get("key") == view.key), None)
            if entry is None:
                entry = next((p for p in pipelines if fold(p.get("name", "")) == fold(pipeline)), None)
            if entry is None:
                entry = {"key": _key("imported", pipeline), "name": pipeline, "stages": []}
                pipelines.append(entry)
                made.add(entry["key"])
            stages = entry.setdefault("stages", [])
            new = {"key": _key("s", stage), "name": stage, "kind": _kind(stage, stages)}
            closing = [i for i, s in enumerate(stages) if s.get("kind") in ("won", "lost")]
            stages.insert(closing[0] if closing and new["kind"] not in ("won", "lost") else len(stages), new)
            self.created.append(
                {"pipeline": entry["key"], "stage": new["key"], "label": f"{pipeline} / {stage}",
                 "new_pipeline": entry["key"] in made}
            )  # fmt: skip
        for entry in pipelines:  # a pipeline made here still needs its closing stages
            stages = entry.setdefault("stages", [])
            for kind, name in (("won", "Успешно реализовано"), ("lost", "Закрыто и не реализовано")):
                if not any(s.get("kind") == kind for s in stages):
                    stages.append({"key": kind, "name": name, "kind": kind})
        _write_pipelines(self.crm, data)
        self.pipelines = list_pipelines(self.crm)
        self.cache.clear()
        return [f"{p} / {s}" for p, s in missing]

    def remember_created(self, import_id: str) -> None:
        """Keep what this import created under its id (added to what a killed
        run of the same import created), for ``crm import undo``."""
        if not self.created:
            return
        with self.crm.uow() as work:
            row = work.session.get(Setting, _created_key(import_id))
            earlier = json.loads(row.value) if row is not None else []
            put_setting(work.session, _created_key(import_id), json.dumps(earlier + self.created, ensure_ascii=False))


def _write_pipelines(crm: Crm, data: dict[str, Any]) -> None:
    """Write the user's pipelines TOML (the previous one kept as .toml.bak) and apply it."""
    import tomli_w

    path = crm.settings.pipelines_file
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.with_suffix(".toml.bak").write_bytes(path.read_bytes())
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    reload_pipelines(crm)


def remove_created_stages(crm: Crm, import_id: str) -> tuple[list[str], list[str]]:
    """Take the stages an import created out of the pipelines again (after
    its deals were undone): those no live deal sits in, and a pipeline it
    made once none of its stages holds a deal. Returns (removed, kept)."""
    with crm.read() as session:
        row = session.get(Setting, _created_key(import_id))
        if row is None:
            return [], []
        created: list[dict[str, Any]] = json.loads(row.value)
        used: dict[tuple[str, str], int] = {
            (p, s): n
            for p, s, n in session.connection().execute(
                text(
                    "SELECT p.key, s.key, count(*) FROM deal d JOIN stage s ON s.id = d.stage_id "
                    "JOIN pipeline p ON p.id = s.pipeline_id WHERE d.deleted_at IS NULL GROUP BY p.key, s.key"
                )
            )
        }
    removed = [c for c in created if not used.get((c["pipeline"], c["stage"]))]
    kept = [c["label"] for c in created if used.get((c["pipeline"], c["stage"]))]
    busy_pipelines = {p for (p, _), n in used.items() if n}
    drop_pipelines = {c["pipeline"] for c in created if c["new_pipeline"]} - busy_pipelines
    data = tomllib.loads(pipelines_text(crm.settings))
    pipelines = data.get("pipelines", [])
    data["pipelines"] = [p for p in pipelines if p.get("key") not in drop_pipelines]
    gone = {(c["pipeline"], c["stage"]) for c in removed}
    for entry in data["pipelines"]:
        entry["stages"] = [s for s in entry.get("stages", []) if (entry.get("key"), s.get("key")) not in gone]
        open_ = [s for s in entry["stages"] if s.get("kind") not in ("won", "lost", "unsorted")]
        if open_ and not any(s.get("kind") == "lead" for s in open_):
            open_[0]["kind"] = "lead"  # the removed stage was the pipeline's first: the next one takes its place
    if removed:
        _write_pipelines(crm, data)
    with crm.uow() as work:
        put_setting(work.session, _created_key(import_id), None)
    return [c["label"] for c in removed], kept


def _key(prefix: str, name: str) -> str:
    return f"{prefix}_{hashlib.sha1(fold(name).encode()).hexdigest()[:8]}"


def _kind(name: str, stages: list[dict[str, object]]) -> str:
    folded = fold(name)
    have = {s.get("kind") for s in stages}
    if folded in _WON and "won" not in have:
        return "won"
    if folded in _LOST and "lost" not in have:
        return "lost"
    if folded in _UNSORTED and "unsorted" not in have:
        return "unsorted"
    if not any(s.get("kind") == "lead" for s in stages):
        return "lead"
    return "normal"
