"""Mail signatures: set by an admin per user (the manual: only the account admin creates
signatures), added under every message the user sends."""

from __future__ import annotations

from tui_crm.domain.errors import ValidationError
from tui_crm.services.context import Crm
from tui_crm.services.parties import find_user
from tui_crm.storage.models import User

MAX_SIGNATURE = 4000


def set_signature(crm: Crm, ref: str, text: str | None) -> tuple[str, str | None]:
    """Set (or with None/empty, clear) a user's signature; returns (user name, signature)."""
    require_signature_admin(crm)
    value = (text or "").replace("\r\n", "\n").strip("\n") or None
    if value is not None and len(value) > MAX_SIGNATURE:
        raise ValidationError("signature", f"a signature of {len(value)} characters is too long; keep it under {MAX_SIGNATURE}")
    with crm.uow() as work:
        user = find_user(work.session, ref)
        work.update(user, signature=value)
    return user.name, value


def require_signature_admin(crm: Crm) -> None:
    """Raise unless the acting user may set signatures (an admin): the app asks before opening its editor."""
    with crm.read() as session:
        me = session.get(User, crm.user_id)
    if me is None or not me.is_admin:
        raise ValidationError("user", f"only an admin sets signatures; {crm.user_name} is not one")


def signature_of(crm: Crm, ref: str) -> str | None:
    with crm.read() as session:
        return find_user(session, ref).signature
