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
    sync_interval_minutes = 15 # background amoCRM sync in the app (default 0: off)
    mail_interval_minutes = 5  # background mail fetch in the app (0: off)
    secrets = "file"           # or "keyring" (CRM_SECRETS_BACKEND)

    [keymap]                   # binding id = keys (see tui_crm/commands.py)
    "board.move_next" = "ctrl+right"

The file is parsed once, by :func:`load_settings`, into one typed
:class:`Settings`; the app, the keymap and the secret store read that
object (or, without one, :func:`options_in`, the same parser), never the
file themselves.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
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
class AppOptions:
    """The settings only the app (and the secret store) reads; part of :class:`Settings`."""

    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id -> keys, from ``[keymap]`` (see ``tui_crm.commands``)."""
    sync_interval_minutes: float = 0.0
    """The app's background sync every N minutes; 0: off."""
    mail_interval_minutes: int = 5
    """The app's background mail fetch every N minutes; 0: off."""
    secrets: str | None = None
    """``keyring`` or ``file``: where secrets go (``tui_crm.secrets``); None: the default."""


@dataclass(kw_only=True)
class Settings(AppOptions):
    """Every setting, typed: paths, config.toml's values, the environment's overrides."""

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
    path = cdir / "config.toml"
    values = read_config_file(path)
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
        **vars(app_options(values)),
    )


def _number(value: object) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def app_options(values: dict[str, object]) -> AppOptions:
    """``AppOptions`` from config.toml's values.

    A value of the wrong kind means the default, as it always has: these
    are conveniences, and a typo in one must not stop the CLI.
    """
    keymap = values.get("keymap")
    sync = _number(values.get("sync_interval_minutes", 0))
    mail = values.get("mail_interval_minutes", 5)
    secrets = values.get("secrets")
    return AppOptions(
        keymap={str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {},
        sync_interval_minutes=sync if sync is not None and sync > 0 else 0.0,
        mail_interval_minutes=mail if isinstance(mail, int) and not isinstance(mail, bool) and mail >= 0 else 5,
        secrets=str(secrets).lower() if secrets else None,
    )


def options_in(cdir: Path) -> AppOptions:
    """``app_options`` of the config.toml in ``cdir`` without a ``Settings`` (the
    secret store before any store is open); a broken file gives the defaults
    (``load_settings`` is the one that reports it)."""
    try:
        return app_options(read_config_file(cdir / "config.toml"))
    except ConfigError:
        return AppOptions()


# Every setting config.toml may hold is a string.
TEXT_SETTINGS = ("db", "user", "phone_region", "timezone", "default_pipeline", "theme")


def read_config_file(path: Path) -> dict[str, object]:
    """config.toml checked: readable UTF-8 TOML, text values, a known time zone.

    Each failure is a ``ConfigError`` naming the file (and line) and what to
    do, instead of a traceback on every command.
    """
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a settings file; remove it or put a config.toml file there")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}); fix its permissions or delete it") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}, line {line}: not UTF-8 (byte {raw[exc.start]:#04x}); save the file as UTF-8") from exc
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix or delete the file") from exc
    for key in TEXT_SETTINGS:
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f'{path}: {key} must be text in quotes (like {key} = "..."), not {values[key]!r}')
    if values.get("timezone"):
        check_timezone(str(values["timezone"]), str(path))
    return values


def check_timezone(name: str, origin: str) -> None:
    """Refuse a time zone the system does not know, naming an example that works."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd keys, OSError for folders
        raise ConfigError(
            f'{origin}: unknown timezone {name!r}; use an IANA name like timezone = "Europe/Moscow", or remove the line'
        ) from exc


def _opt_str(value: object) -> str | None:
    return str(value) if value else None
