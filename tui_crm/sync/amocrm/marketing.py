"""amoCRM's marketing and messenger fields <-> canonical fields of tui-crm.

* **Tracking fields of a deal.** amoCRM keeps what its web forms and
  analytics integrations learn of a visit as lead custom fields of type
  ``tracking_data``, with fixed codes (``UTM_SOURCE``, ``UTM_MEDIUM``,
  ``UTM_CAMPAIGN``, ``UTM_CONTENT``, ``UTM_TERM``, ``UTM_REFERRER``,
  ``REFERRER``, ``_YM_UID``, ``_YM_COUNTER``, ``ROISTAT``, ``GCLID``,
  ``GCLIENTID``, ``YCLID``, ``FBCLID``, ``FROM``, ``OPENSTAT_*``). Each one
  becomes the canonical text field ``mkt:<code in lower case>``
  (``mkt:utm_source``), stored here as a custom value of the deal, so the
  team's attribution survives a round trip and reads as text. ``REFERRER``
  is the deal's ``source_url`` (see :data:`.fields.BUILTINS`).
* **Messengers** (the multitext field with code ``IM`` on contacts, and on
  companies where the account has it): each value carries an enum naming
  the messenger (``TELEGRAM``, ``WHATSAPP``, ``SKYPE``, ``ICQ``, ...,
  ``OTHER``). Locally a messenger is a channel of that kind; canonically
  ``"kind:handle"`` (``"telegram:@ivan"``). A kind the account's IM field
  has no enum for goes out under ``OTHER`` as ``"kind:handle"`` and comes
  back as that kind, so nothing is lost or renamed on the way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tui_crm.sync.mapping import messenger_parts

if TYPE_CHECKING:
    from tui_crm.sync.amocrm.fields import Binding

JSON = dict[str, Any]

TRACKING_PREFIX = "mkt:"
TRACKING_CODES = frozenset(
    {
        "UTM_SOURCE",
        "UTM_MEDIUM",
        "UTM_CAMPAIGN",
        "UTM_CONTENT",
        "UTM_TERM",
        "UTM_REFERRER",
        "_YM_UID",
        "_YM_COUNTER",
        "ROISTAT",
        "GCLID",
        "GCLIENTID",
        "YCLID",
        "FBCLID",
        "FROM",
        "OPENSTAT_SERVICE",
        "OPENSTAT_CAMPAIGN",
        "OPENSTAT_AD",
        "OPENSTAT_SOURCE",
    }
)
OTHER = "OTHER"
_PREFIXED = re.compile(r"^([a-z][a-z0-9_]*):(.+)$", re.DOTALL)


def is_tracking(definition: JSON) -> bool:
    """Whether a lead field definition is one of amoCRM's tracking fields."""
    return definition.get("type") == "tracking_data" or str(definition.get("code") or "").upper() in TRACKING_CODES


def tracking_key(definition: JSON) -> str:
    """The canonical key of a tracking field: its code (or, lacking one, its name) in lower case."""
    code = str(definition.get("code") or definition.get("name") or definition["id"])
    return TRACKING_PREFIX + code.strip().lower()


def _kind(code: str) -> str:
    return code.strip().lower() or "other"


def decode_messengers(binding: Binding, values: list[JSON]) -> list[str]:
    """IM values -> sorted ``"kind:handle"`` (an ``OTHER`` value written as ``"kind:handle"`` keeps its kind)."""
    out: set[str] = set()
    for item in values:
        handle = str(item.get("value") or "").strip()
        if not handle:
            continue
        code = item.get("enum_code") or binding.enum_value(item.get("enum_id"), OTHER)
        kind = _kind(str(code))
        if kind == "other" and (match := _PREFIXED.match(handle)):
            kind, handle = match.group(1), match.group(2).strip()
        out.add(f"{kind}:{handle}")
    return sorted(out)


def encode_messengers(binding: Binding, value: Any) -> list[JSON]:
    """``"kind:handle"`` items -> IM values (``OTHER`` with ``"kind:handle"`` for a kind without an enum)."""
    from tui_crm.sync.amocrm.fields import Unsendable

    codes = {str(e.get("value") or "").upper(): str(e.get("value")) for e in binding.enums}
    out: list[JSON] = []
    for item in value or []:
        kind, handle = messenger_parts(str(item))
        if not handle:
            continue
        code = codes.get(kind.upper())
        if code is not None and kind != "other":
            out.append({"value": handle, "enum_code": code})
        elif OTHER in codes:
            out.append({"value": f"{kind}:{handle}" if kind != "other" else handle, "enum_code": codes[OTHER]})
        else:
            raise Unsendable(f"the remote IM field has no option for {kind}")
    return out
