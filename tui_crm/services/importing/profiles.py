"""Named import mappings kept as TOML in the config dir.

A profile says which column of a plain CSV fills which field, and which of
our pipelines and stages an unknown amoCRM pipeline or stage becomes::

    type = "deals"
    [columns]            # column name in the file = target field
    "Full name" = "name"
    "Phone" = "phone"
    [pipelines]          # pipeline name in the file = our pipeline key
    "Старая воронка" = "sales20"
    [stages]             # "pipeline/stage" or "stage" in the file = our stage key
    "Старая воронка/Первичный контакт" = "lead"

``crm import map NAME`` writes one; ``crm import FILE --map NAME`` uses it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tui_crm.domain.errors import ConfigError, NotFoundError, ValidationError

TARGETS = (
    "name", "first_name", "last_name", "kind", "phone", "email", "position", "department", "company", "company_inn",
    "inn", "web", "address", "responsible", "created_at", "closed_at", "tags", "note", "pipeline", "stage",
    "budget_rub", "budget_usd", "loss_reason", "contact", "contact_phone", "contact_email", "contact_position",
    "external_id", "birthday",
)  # fmt: skip
_NAME = re.compile(r"^[\w.-]{1,64}$")


@dataclass
class Profile:
    name: str
    kind: str = "contacts"
    columns: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)


def profiles_dir(config_dir: Path) -> Path:
    return config_dir / "import-profiles"


def _path(config_dir: Path, name: str) -> Path:
    if not _NAME.match(name):
        raise ValidationError("profile", f"{name!r} is not a profile name; use letters, digits, '-', '_' or '.'")
    return profiles_dir(config_dir) / f"{name}.toml"


def check_target(target: str) -> str:
    if target in TARGETS or target.startswith("custom."):
        return target
    raise ValidationError("map", f"{target!r} is not a field to import into; use one of {', '.join(TARGETS)} or custom.KEY")


def load_profile(config_dir: Path, name: str) -> Profile:
    path = _path(config_dir, name)
    if not path.exists():
        have = sorted(p.stem for p in profiles_dir(config_dir).glob("*.toml")) if profiles_dir(config_dir).exists() else []
        raise NotFoundError(
            f"No import profile {name!r} (have: {', '.join(have) or 'none'}); create it with crm import map {name}"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix or delete the file") from exc
    kind = str(data.get("type", "contacts"))
    if kind not in ("deals", "contacts"):
        raise ConfigError(f"{path}: type must be deals or contacts")
    columns = {str(k): check_target(str(v)) for k, v in dict(data.get("columns", {})).items()}
    return Profile(
        name=name,
        kind=kind,
        columns=columns,
        pipelines={str(k): str(v) for k, v in dict(data.get("pipelines", {})).items()},
        stages={str(k): str(v) for k, v in dict(data.get("stages", {})).items()},
    )


def save_profile(config_dir: Path, profile: Profile) -> Path:
    """Write (or replace) a profile; every target is checked first."""
    import tomli_w

    for target in profile.columns.values():
        check_target(target)
    path = _path(config_dir, profile.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {"type": profile.kind}
    for key in ("columns", "pipelines", "stages"):
        if getattr(profile, key):
            data[key] = dict(getattr(profile, key))
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path
