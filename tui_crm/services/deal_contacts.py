"""Unlinking a contact from a deal (linking is ``services.deals.link_contact``).

A deal has many contacts and one main contact (the manual's "основной
контакт": the one a board card and the lists show). Linking lives in
``deals.py``; the reverse lives here with the same rules:

* one ``UnitOfWork`` transaction, the deal touched (``updated_at``,
  ``revision``) and a change-log row ``{"contacts": [contact_id, None]}``
  (the mirror of what linking logs), so the timeline, undo and sync see it;
* unlinking the main contact makes the next one main, so a deal that still
  has contacts always has a main one: live contacts before deleted ones,
  then by name, the order the deal card lists them in;
* the deal's search entry is rebuilt (it holds its contacts' names and
  channels), so searching the unlinked contact's phone no longer finds it.
"""

from __future__ import annotations

from sqlmodel import col, select

from tui_crm.domain.errors import NotFoundError
from tui_crm.services.context import Crm
from tui_crm.services.deals import get_deal
from tui_crm.services.records import reindex, resolve
from tui_crm.services.views import DealDetail
from tui_crm.storage.models import Contact, Deal, DealContact


def unlink_contact(crm: Crm, deal_ref: str, contact_ref: str) -> DealDetail:
    """Remove a contact from a deal; refuses (NotFoundError) when it is not linked."""
    with crm.uow() as work:
        session = work.session
        deal = resolve(session, Deal, deal_ref)
        # a deleted contact may still be linked: find it too, so it can be unlinked
        contact = resolve(session, Contact, contact_ref, include_deleted=True)
        link = session.get(DealContact, (deal.id, contact.id))
        if link is None:
            raise NotFoundError(f"{contact.name} is not a contact of the deal {deal.name}")
        was_main = link.is_main
        session.delete(link)
        session.flush()
        if was_main:
            successor = session.exec(
                select(DealContact)
                .join(Contact, col(Contact.id) == col(DealContact.contact_id))
                .where(DealContact.deal_id == deal.id)
                .order_by(col(Contact.deleted_at).is_not(None), Contact.name_fold, Contact.id)
            ).first()
            if successor is not None:
                successor.is_main = True
                session.add(successor)
        work.touch(deal)
        work.log("deal", deal.id, "update", {"contacts": [contact.id, None]})
        reindex(session, "deal", deal.id)
    return get_deal(crm, deal.id)
