"""The team hub: a PostgreSQL database as the shared store, behind the sync
engine's :class:`~tui_crm.sync.adapter.Adapter` interface (the same engine,
three-way merge and conflicts as amoCRM).

* ``schema.py``: Alembic environment of the hub's own schema (``migrations/``);
* ``connection.py``: connection settings (URL without password, client
  certificate) and the password from the secret store;
* ``adapter.py``: :class:`HubAdapter`, records keyed by the clients' UUIDs;
* ``members.py``: members as PostgreSQL roles (add, deactivate, delete with
  transfer), the hub's status;
* ``listen.py``: LISTEN/NOTIFY while the app is online.

See docs/hub.md.
"""
