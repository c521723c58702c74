"""Shell completion of pipeline and stage names (``crm --install-completion``).

Completion runs on every Tab press, so it reads the pipelines TOML (the
user's file, else the shipped default) and nothing else: no database, no
services. Commands and options complete through click itself;
:func:`add_completions` gives every ``--pipeline`` and stage parameter of a
command tree its completer, so a new command gets them by naming its
parameter ``pipeline``/``stage``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Parameter names that take a pipeline, and a stage (``bulk move TO``).
PIPELINE_PARAMS = frozenset({"pipeline"})
STAGE_PARAMS = frozenset({"stage", "to"})


def _pipelines() -> list[dict[str, Any]]:
    """The ``[[pipelines]]`` tables of the pipelines TOML; empty if it cannot be read."""
    import tomllib

    from tui_crm.config import config_dir

    try:
        path = Path(config_dir()) / "pipelines.toml"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            from importlib import resources

            text = resources.files("tui_crm.defaults").joinpath("pipelines.toml").read_text(encoding="utf-8")
        pipelines = tomllib.loads(text).get("pipelines", [])
    except (OSError, ValueError):  # a broken file: complete nothing rather than fail the shell
        return []
    return [p for p in pipelines if isinstance(p, dict) and isinstance(p.get("key"), str)]


def _matches(items: list[tuple[str, str]], incomplete: str) -> list[Any]:
    """(key, name) pairs whose key or name starts with ``incomplete`` (any case, ё = е)."""
    from typer._click.shell_completion import CompletionItem

    from tui_crm.domain.text import fold

    typed = fold(incomplete)
    out: list[Any] = []
    seen: set[str] = set()
    for key, name in items:
        if key.startswith(incomplete) and key not in seen:
            out.append(CompletionItem(key, help=name))
            seen.add(key)
        elif fold(name).startswith(typed) and name not in seen:
            out.append(CompletionItem(name, help=key))
            seen.add(name)
    return out


def complete_pipeline(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    return _matches([(p["key"], str(p.get("name", p["key"]))) for p in _pipelines()], incomplete)


def complete_stage(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Stages of the ``--pipeline`` given on the line, else of every pipeline."""
    wanted = (ctx.params.get("pipeline") or "") if ctx is not None else ""
    from tui_crm.domain.text import fold

    stages: list[tuple[str, str]] = []
    for pipeline in _pipelines():
        if wanted and fold(wanted) not in (fold(pipeline["key"]), fold(str(pipeline.get("name", "")))):
            continue
        for stage in pipeline.get("stages", []):
            if isinstance(stage, dict) and isinstance(stage.get("key"), str):
                stages.append((stage["key"], str(stage.get("name", stage["key"]))))
    return _matches(stages, incomplete)


def add_completions(command: Any) -> None:
    """Give the pipeline and stage parameters of ``command`` and its subcommands their completers."""
    for param in getattr(command, "params", []):
        if param.name in PIPELINE_PARAMS:
            param._custom_shell_complete = complete_pipeline
        elif param.name in STAGE_PARAMS:
            param._custom_shell_complete = complete_stage
    for child in getattr(command, "commands", {}).values():
        add_completions(child)


def pipeline_choices(ctx: Any, args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """Typer's ``autocompletion`` form of :func:`complete_pipeline` (for the root ``--pipeline``)."""
    return [(item.value, item.help or "") for item in complete_pipeline(ctx, None, incomplete)]
