"""Sync engine and adapters (amoCRM/Kommo; a PostgreSQL hub later).

``engine.SyncEngine`` pushes the pending change log, then pulls remote
changes since stored cursors, through the ``adapter.Adapter`` interface;
it knows nothing of HTTP. Design decisions (docs/sync.md has the full text):

* creates carry our UUID remotely (amoCRM: a ``tui_crm_uuid`` custom field)
  and are committed as ``attempt`` before they are sent, so a lost answer or
  a killed run is settled by looking the record up, never by sending it again;
* updates send only the fields changed locally and not remotely (fetched and
  merged three-way against the shadow first); both-sides changes become one
  conflict record each, the local value kept until a person resolves it;
* every pulled page is applied with its cursor in one transaction, through
  ``local.SyncUnitOfWork`` (change-log rows born synced);
* local deletes: amoCRM API v4 cannot delete leads, contacts, companies,
  tasks or notes, so a deleted deal/contact/company gets the tag
  ``tui-crm:deleted`` (removed on restore), a deleted task is completed with
  the result ``[tui-crm: deleted]``, a deleted note stays remote; other
  tui-crm clients read the tag/result as a deletion. Remote deletions
  (events, or a record gone on fetch) become local tombstones;
* a pulled stage change the local gate would refuse is applied and flagged
  (a ``gate`` notice and a system note), never silently.
"""
