"""The team: list, add, deactivate, delete with transfer of their records."""

from __future__ import annotations

from sqlmodel import col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.validation import normalize_email
from tui_crm.services.context import Crm
from tui_crm.services.parties import assignable_user, find_user
from tui_crm.services.views import UserView
from tui_crm.storage.models import Company, Contact, Deal, Task, User

_OWNED = (Deal, Contact, Company, Task)


def list_users(crm: Crm, include_inactive: bool = True) -> list[UserView]:
    with crm.read() as session:
        stmt = select(User).where(col(User.deleted_at).is_(None)).order_by(User.name)
        if not include_inactive:
            stmt = stmt.where(col(User.is_active).is_(True))
        return [
            UserView(u.id, u.name, u.email, u.is_active, u.is_admin, u.id == crm.user_id, u.signature)
            for u in session.exec(stmt)
        ]


def add_user(crm: Crm, name: str, email: str | None = None, admin: bool = False) -> UserView:
    """Add a team member (an admin action, like deactivate and delete)."""
    _require_admin(crm)
    name = name.strip()
    if not name:
        raise ValidationError("name", "a user needs a name")
    normalized = normalize_email(email) if email else None
    with crm.uow() as work:
        for user in work.session.exec(select(User).where(col(User.deleted_at).is_(None))):
            if user.name.casefold() == name.casefold():
                raise ValidationError("name", f"a user named {user.name!r} already exists")
        user = User(name=name, email=normalized, is_admin=admin)
        work.create(user)
    return UserView(user.id, user.name, user.email, True, admin)


def _require_admin(crm: Crm) -> None:
    with crm.read() as session:
        me = session.get(User, crm.user_id)
    if me is None or not me.is_admin:
        raise ValidationError("user", f"{crm.user_name} is not an admin; run as an admin with --user")


def set_active(crm: Crm, ref: str, active: bool) -> UserView:
    """Deactivated users keep their records but cannot be assigned new ones."""
    _require_admin(crm)
    with crm.uow() as work:
        user = find_user(work.session, ref)
        if user.id == crm.user_id and not active:
            raise ValidationError("user", "you cannot deactivate yourself")
        work.update(user, is_active=active)
    return UserView(user.id, user.name, user.email, user.is_active, user.is_admin)


def delete_user(crm: Crm, ref: str, transfer_to: str) -> dict[str, int]:
    """Tombstone a user after moving all their records to another user.

    Returns how many deals, contacts, companies and tasks moved.
    """
    _require_admin(crm)
    with crm.uow() as work:
        session = work.session
        user = find_user(session, ref)
        heir = assignable_user(session, transfer_to)
        if user.id == heir.id:
            raise ValidationError("transfer", "transfer the records to a different user")
        if user.id == crm.user_id:
            raise ValidationError("user", "you cannot delete yourself")
        moved: dict[str, int] = {}
        for model in _OWNED:
            rows = list(session.exec(select(model).where(model.responsible_id == user.id)))  # type: ignore[attr-defined]
            for row in rows:
                work.update(row, responsible_id=heir.id)
            moved[str(model.__tablename__)] = len(rows)
        work.update(user, is_active=False)
        work.soft_delete(user)
    return moved
