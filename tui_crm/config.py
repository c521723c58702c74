"""Where things live and the user's settings.

Paths come from platformdirs; every one can be overridden for scripts and
tests: ``CRM_CONFIG_DIR``, ``CRM_DATA_DIR``, ``CRM_DB`` (or ``--db``) and
``CRM_USER`` (or ``--user``). Settings are a small TOML file,
``config.toml`` in the config dir::

    user = "Анна Петрова"      # current user (name or email)
    phone_region = "RU"        # region for numbers typed without +country
    timezone = "Europe/Moscow" # agenda day boundaries; default: system zone
    default_pipeline = "sales20"
    theme = "dark"             # or "light"
    rates_url = "https://www.cbr.ru/scripts/XML_daily.asp"  # the Bank of Russia's daily rates (CRM_RATES_URL)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tui_crm.domain.errors import ConfigError

APP_NAME = "tui-crm"


def config_dir() -> Path:
    env = os.environ.get("CRM_CONFIG_DIR")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME))


def data_dir() -> Path:
    env = os.environ.get("CRM_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


@dataclass
class Settings:
    db_path: Path
    files_dir: Path
    config_dir: Path
    user: str | None = None
    phone_region: str = "RU"
    timezone: str | None = None
    default_pipeline: str = "sales20"
    theme: str = "dark"
    rates_url: str = "https://www.cbr.ru/scripts/XML_daily.asp"  # Bank of Russia daily XML; tests point it at a fake

    @property
    def pipelines_file(self) -> Path:
        """The user's editable pipelines TOML (the shipped default if absent)."""
        return self.config_dir / "pipelines.toml"


def load_settings(db: str | os.PathLike[str] | None = None, user: str | None = None) -> Settings:
    """Settings from config.toml, then environment, then the command line."""
    cdir = config_dir()
    values: dict[str, object] = {}
    path = cdir / "config.toml"
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}; fix or delete the file") from exc
    db_path = Path(db or os.environ.get("CRM_DB") or values.get("db") or data_dir() / "crm.sqlite3").expanduser()
    return Settings(
        db_path=db_path,
        files_dir=db_path.with_name(db_path.name + ".files"),
        config_dir=cdir,
        user=user or os.environ.get("CRM_USER") or _opt_str(values.get("user")),
        phone_region=str(values.get("phone_region", "RU")),
        timezone=_opt_str(values.get("timezone")),
        default_pipeline=str(values.get("default_pipeline", "sales20")),
        theme=str(values.get("theme", "dark")),
        rates_url=os.environ.get("CRM_RATES_URL") or str(values.get("rates_url") or Settings.rates_url),
    )


def _opt_str(value: object) -> str | None:
    return str(value) if value else None
