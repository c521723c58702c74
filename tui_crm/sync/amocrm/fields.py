"""Custom fields of amoCRM <-> canonical fields of tui-crm.

amoCRM keeps most of what tui-crm has as columns (a contact's position,
phones, e-mails; a company's INN, web, address; a deal's budget in USD) as
*custom fields* of the account. :func:`build_bindings` matches the account's
field definitions to local fields:

* built-in local fields by the remote field's ``code`` (PHONE, EMAIL, IM,
  POSITION, WEB, ADDRESS, REFERRER) or by its name (Отдел, Пол, День
  рождения, ИНН, Тип, Отрасль, Территория, Оборот, Количество сотрудников,
  Потребности, Бюджет ($), Канал привлечения, Сайт, Ссылка на источник, Сообщение);
* a deal's tracking fields (type ``tracking_data``, or codes UTM_SOURCE,
  UTM_MEDIUM, UTM_CAMPAIGN, UTM_CONTENT, UTM_TERM, UTM_REFERRER, _YM_UID,
  GCLID, ... that amoCRM's forms fill) as ``mkt:<code in lower case>``
  (``mkt:utm_source``), plain text (see :mod:`.marketing`);
* custom fields of ``pipelines.toml`` by label = remote name (case- and
  ё-insensitive) when the types are compatible;
* every other remote field is kept verbatim under ``amo:<field_id>`` (its
  ``values`` list), so nothing the team entered in amoCRM is dropped, and it
  goes back unchanged.

Select values travel as enum ids (amoCRM rejects labels that differ in case,
issue #275) and are matched to local options case-insensitively; a local
value with no remote enum cannot be sent and stays local (the engine keeps
it out of the shadow so it is neither overwritten nor lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tui_crm.domain.text import fold
from tui_crm.sync.amocrm.marketing import decode_messengers, encode_messengers, is_tracking, tracking_key

JSON = dict[str, Any]
UUID_FIELD_NAME = "tui_crm_uuid"
DELETED_TAG = "tui-crm:deleted"
# Where the id field cannot be created (no admin rights, ...): the record's id as a tag, which a
# manager may write, set in the same request that creates the record.
MARKER_PREFIX = "tui-crm:id:"

ENTITY_PATHS = {"deal": "leads", "contact": "contacts", "company": "companies"}

# local built-in field -> (remote codes, remote names (folded), codec)
BUILTINS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...], str]]] = {
    "contact": {
        "phones": (("PHONE",), ("телефон", "phone"), "phones"),
        "emails": (("EMAIL",), ("email", "e-mail"), "emails"),
        "messengers": (("IM",), ("мгн. сообщения", "мессенджеры", "im"), "messengers"),
        "position": (("POSITION",), ("должность", "position"), "text"),
        "department": ((), ("отдел", "department"), "text"),
        "gender": ((), ("пол", "gender"), "gender"),
        "birthday": ((), ("день рождения", "birthday"), "date"),
    },
    "company": {
        "phones": (("PHONE",), ("телефон", "phone"), "phones"),
        "emails": (("EMAIL",), ("email", "e-mail"), "emails"),
        "web": (("WEB",), ("web", "сайт"), "text"),
        "address": (("ADDRESS",), ("адрес", "address"), "text"),
        "inn": ((), ("инн", "inn"), "text"),
        "company_type": ((), ("тип", "type", "тип компании"), "company_type"),
        "industry": ((), ("отрасль", "industry"), "text"),
        "territory": ((), ("территория", "territory"), "select"),
        "turnover": ((), ("оборот", "годовой оборот", "turnover"), "text"),
        "employees": ((), ("количество сотрудников", "сотрудников", "число сотрудников", "employees"), "number"),
        "needs": ((), ("потребности", "потребность", "needs"), "text"),
        "messengers": (("IM",), ("мгн. сообщения", "мессенджеры", "im"), "messengers"),
    },
    "deal": {
        "budget_usd": ((), ("бюджет ($)", "бюджет $", "budget ($)", "budget usd"), "cents"),
        "source_channel": ((), ("канал привлечения", "канал заявки", "source channel"), "text_or_select"),
        "source_site": ((), ("сайт", "site", "сайт заявки"), "text_or_select"),
        "source_url": (("REFERRER",), ("ссылка на источник", "source url", "страница заявки"), "text"),
        "source_message": ((), ("сообщение", "текст заявки", "message"), "text"),
    },
}
# Local options of built-in select-like fields (a remote label is given back in this spelling).
BUILTIN_OPTIONS = {"source_site": ("RU", "COM")}
_TEXTUAL = ("text", "textarea", "url", "streetaddress", "tracking_data")
_CHOICE = ("select", "radiobutton")
# Remote types a built-in field binds to when found by name (a «Оборот» kept as a number in amoCRM
# cannot take "1-5 млрд": it stays unmapped rather than have every push of the record refused).
BUILTIN_TYPES: dict[str, tuple[str, ...]] = {
    "turnover": _TEXTUAL,
    "needs": _TEXTUAL,
    "employees": ("numeric",),
    "messengers": ("multitext",),
    "source_channel": (*_TEXTUAL, *_CHOICE),
    "source_site": (*_TEXTUAL, *_CHOICE),
    "source_url": _TEXTUAL,
    "source_message": _TEXTUAL,
}

GENDERS = {"male": ("мужской", "male", "м", "муж"), "female": ("женский", "female", "ж", "жен")}
COMPANY_TYPES = {
    "new client": ("новый клиент", "new client", "новый"),
    "existing client": ("действующий клиент", "существующий клиент", "existing client", "действующий"),
    "partner": ("партнёр", "партнер", "partner"),
}
LIST_CODECS = ("phones", "emails", "multiselect", "messengers")
ENUM_TYPES = ("select", "radiobutton", "multiselect", "category")
TEXT_TYPES = ("text", "textarea", "url", "streetaddress")
NUMBER_TYPES = ("numeric", "price", "monetary")
DATE_TYPES = ("date", "date_time", "birthday")


class Unsendable(Exception):
    """A local value the remote field cannot hold."""


@dataclass
class Binding:
    canonical: str
    field_id: int
    rtype: str
    codec: str
    enums: list[JSON] = field(default_factory=list)  # [{"id", "value", "sort"}]
    options: tuple[str, ...] = ()  # local select options

    def enum_by_value(self, value: str) -> JSON | None:
        wanted = fold(value)
        return next((e for e in self.enums if fold(str(e.get("value", ""))) == wanted), None)

    def enum_value(self, enum_id: Any, fallback: Any = None) -> Any:
        found = next((e for e in self.enums if e.get("id") == enum_id), None)
        return found["value"] if found else fallback


@dataclass
class EntityFields:
    bindings: dict[str, Binding] = field(default_factory=dict)  # canonical -> binding
    by_id: dict[int, Binding] = field(default_factory=dict)
    uuid_field: int | None = None
    warnings: list[str] = field(default_factory=list)


def _local_codec(local_type: str, remote_type: str) -> str | None:
    if local_type == "select" and remote_type in ("select", "radiobutton"):
        return "select"
    if local_type == "multiselect" and remote_type in ("multiselect", "category"):
        return "multiselect"
    if local_type == "text" and remote_type in ("multiselect", "category"):
        return "multi_text"
    if local_type in ("text", "url", "phone", "email") and remote_type in TEXT_TYPES:
        return "text"
    if local_type == "number" and remote_type in NUMBER_TYPES:
        return "number"
    if local_type == "money" and remote_type in NUMBER_TYPES:
        return "money"
    if local_type == "date" and remote_type in DATE_TYPES:
        return "date"
    if local_type == "bool" and remote_type == "checkbox":
        return "bool"
    return None


def build_bindings(entity: str, definitions: list[JSON], local_fields: dict[str, dict[str, Any]]) -> EntityFields:
    """Match the account's field definitions of one entity to local fields (see the module docstring)."""
    out = EntityFields()
    free = [d for d in definitions if isinstance(d.get("id"), int)]
    uuid_def = next((d for d in free if d.get("name") == UUID_FIELD_NAME), None)
    if uuid_def is not None:
        out.uuid_field = uuid_def["id"]
        free.remove(uuid_def)

    def bind(canonical: str, definition: JSON, codec: str, options: tuple[str, ...] = ()) -> None:
        if codec == "text_or_select":
            codec = "select" if definition.get("type") in ("select", "radiobutton") else "text"
        binding = Binding(
            canonical, definition["id"], str(definition.get("type")), codec, list(definition.get("enums") or []), options
        )
        out.bindings[canonical] = binding
        out.by_id[binding.field_id] = binding
        free.remove(definition)

    for canonical, (codes, names, codec) in BUILTINS.get(entity, {}).items():
        fits = BUILTIN_TYPES.get(canonical)
        usable = [d for d in free if fits is None or d.get("type") in fits]
        definition = next((d for d in usable if d.get("code") and d["code"] in codes), None)
        definition = definition or next((d for d in usable if fold(str(d.get("name", ""))) in names), None)
        if definition is not None:
            bind(canonical, definition, codec, BUILTIN_OPTIONS.get(canonical, ()))
    if entity == "deal":
        for definition in [d for d in free if is_tracking(d)]:
            bind(tracking_key(definition), definition, "text")
    for key, spec in local_fields.items():
        definition = next((d for d in free if fold(str(d.get("name", ""))) == fold(str(spec.get("label", "")))), None)
        if definition is None:
            continue
        codec = _local_codec(str(spec.get("type")), str(definition.get("type")))
        if codec is None:
            out.warnings.append(
                f"{entity} field «{spec.get('label')}»: local type {spec.get('type')} does not fit remote type "
                f"{definition.get('type')}; kept apart (remote values under amo:{definition['id']})."
            )
            continue
        bind(f"custom.{key}", definition, codec, tuple(spec.get("options") or ()))
    for definition in list(free):
        bind(f"amo:{definition['id']}", definition, "raw")
    return out


# ----------------------------------------------------------------- decoding


def _first(values: list[JSON]) -> Any:
    return values[0].get("value") if values else None


def _to_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        return None


def _to_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), UTC).date().isoformat()
    text = str(value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()
    except ValueError:
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            return text


def _map_option(binding: Binding, value: str) -> str:
    for option in binding.options:
        if fold(option) == fold(value):
            return option
    return value


def _phone(value: str, region: str) -> str:
    from tui_crm.domain.validation import normalize_phone

    try:
        return normalize_phone(value, region)
    except Exception:  # noqa: BLE001 - keep what the remote has when it is not a valid number
        return value.strip()


def _email(value: str) -> str:
    """The local store's form of an e-mail (validated, case folded:
    ``domain.matching.email_key``), so the same address on both sides
    compares equal and a pull never makes a second one."""
    from tui_crm.domain.matching import email_key
    from tui_crm.domain.validation import normalize_email

    try:
        return email_key(normalize_email(value))
    except Exception:  # noqa: BLE001
        return email_key(value)


def _raw_values(binding: Binding, values: list[JSON]) -> list[JSON]:
    """The one form of an unmapped field's values, read or written: only the keys the field type
    accepts, none of them empty, a select's label taken from the enum. Local and remote values
    are compared in this form, so a remote answer that adds ``enum_code: null`` is no change."""
    allowed = {"value"}
    if binding.rtype in ENUM_TYPES:
        allowed = {"value", "enum_id"}
    if binding.rtype == "multitext":
        allowed = {"value", "enum_id", "enum_code"}
    out = []
    for item in values:
        entry = {k: v for k, v in item.items() if k in allowed and v is not None}
        if "enum_id" in entry and binding.rtype in ENUM_TYPES:
            label = binding.enum_value(entry["enum_id"], entry.get("value"))
            if label is not None:
                entry["value"] = label
        if entry:
            out.append(entry)
    return out


def decode_value(binding: Binding, values: list[JSON] | None, region: str = "RU") -> Any:
    """The canonical value of one remote field (None when empty)."""
    values = [v for v in values or [] if isinstance(v, dict)]
    codec = binding.codec
    if not values:
        return [] if codec in LIST_CODECS else None
    if codec == "raw":
        return _raw_values(binding, values)
    if codec == "messengers":
        return decode_messengers(binding, values)
    if codec == "phones":
        return sorted({_phone(str(v.get("value", "")), region) for v in values if v.get("value")})
    if codec == "emails":
        return sorted({_email(str(v.get("value", ""))) for v in values if v.get("value")})
    if codec == "text":
        value = _first(values)
        return None if value is None else str(value)
    if codec in ("select", "gender", "company_type"):
        item = values[0]
        label = binding.enum_value(item.get("enum_id"), item.get("value"))
        if label is None:
            return None
        if codec == "gender":
            return next((k for k, names in GENDERS.items() if fold(str(label)) in names), str(label))
        if codec == "company_type":
            return next((k for k, names in COMPANY_TYPES.items() if fold(str(label)) in names), str(label))
        return _map_option(binding, str(label))
    if codec == "multiselect":
        labels = [str(binding.enum_value(v.get("enum_id"), v.get("value"))) for v in values]
        mapped = [_map_option(binding, label) for label in labels]
        order = {fold(o): n for n, o in enumerate(binding.options)}
        return sorted(mapped, key=lambda v: order.get(fold(v), len(order)))
    if codec == "multi_text":
        sort = {e["id"]: e.get("sort", 0) for e in binding.enums}
        ordered = sorted(values, key=lambda v: sort.get(v.get("enum_id"), 0))
        return ", ".join(str(binding.enum_value(v.get("enum_id"), v.get("value"))) for v in ordered)
    if codec == "number":
        number = _to_decimal(_first(values))
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if codec == "money":
        number = _to_decimal(_first(values))
        return None if number is None else str(number.quantize(Decimal("0.01")))
    if codec == "cents":
        number = _to_decimal(_first(values))
        return None if number is None else int((number * 100).to_integral_value())
    if codec == "date":
        return _to_date(_first(values))
    if codec == "bool":
        value = _first(values)
        return None if value is None else bool(value)
    return _first(values)


# ----------------------------------------------------------------- encoding


def _enum_id(binding: Binding, label: str) -> int:
    enum = binding.enum_by_value(label)
    if enum is None:
        raise Unsendable(f"«{label}» is not an option of the remote field")
    return int(enum["id"])


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;/\n]", text) if part.strip()]


def encode_value(binding: Binding, value: Any, before: list[JSON] | None = None) -> list[JSON] | None:
    """The ``values`` list for one remote field (None clears it); raises Unsendable."""
    codec = binding.codec
    if value is None or value == "" or value == []:
        return None
    if codec == "messengers":
        return encode_messengers(binding, value)
    if codec == "raw":
        if not isinstance(value, list):
            raise Unsendable("not a values list")
        return _raw_values(binding, [item for item in value if isinstance(item, dict)])
    if codec in ("phones", "emails"):
        codes = {}
        for item in before or []:
            if isinstance(item, dict) and item.get("value"):
                codes[str(item["value"])] = item.get("enum_code") or item.get("enum_id")
        out = []
        for item in value:
            code = codes.get(str(item))
            entry: JSON = {"value": str(item)}
            if isinstance(code, str):
                entry["enum_code"] = code
            elif isinstance(code, int):
                entry["enum_id"] = code
            else:
                entry["enum_code"] = "WORK"
            out.append(entry)
        return out
    if codec == "text":
        return [{"value": str(value)}]
    if codec == "select":
        return [{"enum_id": _enum_id(binding, str(value))}]
    if codec == "gender":
        names = GENDERS.get(str(value), (str(value),))
        enum = next((e for e in binding.enums if fold(str(e.get("value", ""))) in names), None)
        if enum is None:
            raise Unsendable(f"no remote option for gender {value!r}")
        return [{"enum_id": int(enum["id"])}]
    if codec == "company_type":
        names = COMPANY_TYPES.get(str(value), (fold(str(value)),))
        enum = next((e for e in binding.enums if fold(str(e.get("value", ""))) in names), None)
        if enum is None:
            raise Unsendable(f"no remote option for company type {value!r}")
        return [{"enum_id": int(enum["id"])}]
    if codec == "multiselect":
        return [{"enum_id": _enum_id(binding, str(v))} for v in value]
    if codec == "multi_text":
        return [{"enum_id": _enum_id(binding, part)} for part in _split(str(value))]
    if codec in ("number", "money"):
        number = _to_decimal(value)
        if number is None:
            raise Unsendable("not a number")
        return [{"value": format(number.normalize(), "f") if codec == "number" else str(number.quantize(Decimal("0.01")))}]
    if codec == "cents":
        return [{"value": str((Decimal(int(value)) / 100).quantize(Decimal("0.01")))}]
    if codec == "date":
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            raise Unsendable("not a date") from None
        return [{"value": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())}]
    if codec == "bool":
        return [{"value": bool(value)}]
    raise Unsendable(f"unknown codec {codec}")


def roundtrip(binding: Binding, value: Any, region: str = "RU") -> Any:
    """The value as it would come back from the remote (unchanged when it cannot be sent)."""
    try:
        encoded = encode_value(binding, value)
    except Unsendable:
        return value
    if encoded is None:
        return [] if binding.codec in LIST_CODECS else None
    if binding.codec in ("select", "multiselect", "multi_text", "gender", "company_type"):
        encoded = [{"enum_id": e.get("enum_id"), "value": binding.enum_value(e.get("enum_id"))} for e in encoded]
    return decode_value(binding, encoded, region)
