"""Which of our pipelines and stages a file's «Воронка» / «Этап сделки» is.

By name or key (any case, ё = е), else through the profile's
``[pipelines]`` / ``[stages]`` maps. What matches nothing is listed in the
dry run and either mapped (``--map``) or, with ``--create-stages``, added
to the user's pipelines TOML (the shipped file is copied first) and
applied: pipelines and stages are data, and the TOML is where they live.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass

from tui_crm.domain.text import fold
from tui_crm.services.context import Crm, pipelines_text
from tui_crm.services.importing.profiles import Profile
from tui_crm.services.pipelines import list_pipelines, reload_pipelines
from tui_crm.services.views import PipelineView

_WON = {"успешно реализовано", "успешно", "won"}
_LOST = {"закрыто и не реализовано", "не реализовано", "lost"}
_UNSORTED = {"неразобранное", "unsorted"}


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
        import tomli_w

        missing = [(p, s) for (p, s) in self.seen.values() if self.resolve(p, s) is None]
        if not missing:
            return []
        settings = self.crm.settings
        data = tomllib.loads(pipelines_text(settings))
        pipelines = data.setdefault("pipelines", [])
        for pipeline, stage in missing:
            view = self._pipeline(pipeline)
            entry = next((p for p in pipelines if view is not None and p.get("key") == view.key), None)
            if entry is None:
                entry = next((p for p in pipelines if fold(p.get("name", "")) == fold(pipeline)), None)
            if entry is None:
                entry = {"key": _key("imported", pipeline), "name": pipeline, "stages": []}
                pipelines.append(entry)
            stages = entry.setdefault("stages", [])
            new = {"key": _key("s", stage), "name": stage, "kind": _kind(stage, stages)}
            closing = [i for i, s in enumerate(stages) if s.get("kind") in ("won", "lost")]
            stages.insert(closing[0] if closing and new["kind"] not in ("won", "lost") else len(stages), new)
        for entry in pipelines:  # a pipeline made here still needs its closing stages
            stages = entry.setdefault("stages", [])
            for kind, name in (("won", "Успешно реализовано"), ("lost", "Закрыто и не реализовано")):
                if not any(s.get("kind") == kind for s in stages):
                    stages.append({"key": kind, "name": name, "kind": kind})
        path = settings.pipelines_file
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.with_suffix(".toml.bak").write_bytes(path.read_bytes())
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        reload_pipelines(self.crm)
        self.pipelines = list_pipelines(self.crm)
        self.cache.clear()
        return [f"{p} / {s}" for p, s in missing]


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
