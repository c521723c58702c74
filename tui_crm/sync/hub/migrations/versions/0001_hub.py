"""The team hub: records, change feed, members, row-level security

Revision ID: 0001_hub
Revises:
Create Date: 2026-12-04 18:00:00

* ``hub_record``: one row per record, keyed by the client's UUID (``entity``,
  ``id``); ``fields`` holds the canonical fields (sync/mapping.py) as JSON,
  references as hub ids (a member's login, ``pipeline:stage`` keys, record
  UUIDs). Deletes are tombstones (``deleted``), never row deletes.
* ``hub_feed``: a row per committed change, written by a trigger; ``xid`` is
  the writing transaction's id. Readers take only rows whose transaction is
  older than every transaction still running (``xid <
  pg_snapshot_xmin(pg_current_snapshot())``) in ``(xid, seq)`` order, so a
  transaction that commits late can never fall behind a cursor.
* ``hub_user``: members; each is a PostgreSQL role (``login``) granted
  ``tui_crm_hub``. Row-level security on ``hub_record`` (and ``hub_mail``)
  decides what a member sees: admins everything, managers their own
  records, their team's, and records nobody owns; a member's private mail
  only that member. A deactivated member sees nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0001_hub"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tui_crm_hub') THEN
        CREATE ROLE tui_crm_hub NOLOGIN;
    END IF;
END $$;

CREATE TABLE hub_user (
    login text PRIMARY KEY,
    name text NOT NULL,
    email text,
    is_admin boolean NOT NULL DEFAULT false,
    team text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_sync_at timestamptz,
    last_xid text,
    last_seq bigint
);

CREATE TABLE hub_pipeline (
    key text PRIMARY KEY,
    name text NOT NULL,
    sort integer NOT NULL DEFAULT 0
);

CREATE TABLE hub_stage (
    id text PRIMARY KEY,
    pipeline_key text NOT NULL REFERENCES hub_pipeline (key),
    key text NOT NULL,
    name text NOT NULL,
    sort integer NOT NULL DEFAULT 0,
    kind text NOT NULL DEFAULT 'normal'
);

CREATE TABLE hub_record (
    entity text NOT NULL,
    id text NOT NULL,
    fields jsonb NOT NULL DEFAULT '{}'::jsonb,
    owner text,
    deleted boolean NOT NULL DEFAULT false,
    version bigint NOT NULL DEFAULT 1,
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT session_user,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, id)
);
CREATE INDEX hub_record_owner ON hub_record (owner);

CREATE TABLE hub_feed (
    seq bigserial PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    entity text NOT NULL,
    record_id text NOT NULL,
    by_login text NOT NULL DEFAULT session_user,
    client text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_feed_order ON hub_feed (entity, xid, seq);

CREATE TABLE hub_mail (
    id text PRIMARY KEY,
    owner text NOT NULL DEFAULT session_user,
    record text,
    subject text,
    body text,
    at timestamptz NOT NULL DEFAULT now()
);

-- Who is asking: the login of the connection (session_user, which SET ROLE cannot change).
CREATE FUNCTION hub_can_see(row_owner text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $f$
    SELECT EXISTS (
        SELECT 1 FROM hub_user me
        WHERE me.login = session_user AND me.active AND (
            me.is_admin OR row_owner IS NULL OR row_owner = me.login
            OR (me.team IS NOT NULL AND EXISTS (
                SELECT 1 FROM hub_user o WHERE o.login = row_owner AND o.team = me.team))))
$f$;

-- Owner, tombstone flag, version and author of a record, set by the server (not trusted from clients).
CREATE FUNCTION hub_record_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
DECLARE
    parent text;
    parent_owner text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.fields IS NOT DISTINCT FROM OLD.fields AND NEW.owner IS NOT DISTINCT FROM OLD.owner THEN
        RETURN NULL;  -- nothing changed: no write, no feed row (a retried push is a no-op)
    END IF;
    NEW.deleted := coalesce((NEW.fields ->> 'deleted')::boolean, false);
    IF TG_OP = 'INSERT' THEN
        IF NEW.fields ->> 'responsible_id' IS NOT NULL THEN
            NEW.owner := NEW.fields ->> 'responsible_id';
        ELSE
            parent := NEW.fields ->> 'entity';
            IF parent IS NOT NULL AND position(':' IN parent) > 0 THEN
                SELECT r.owner INTO parent_owner FROM hub_record r
                WHERE r.entity = split_part(parent, ':', 1) AND r.id = split_part(parent, ':', 2);
            END IF;
            NEW.owner := coalesce(parent_owner, session_user);
        END IF;
    ELSIF NEW.fields -> 'responsible_id' IS DISTINCT FROM OLD.fields -> 'responsible_id'
          AND NEW.fields ->> 'responsible_id' IS NOT NULL THEN
        NEW.owner := NEW.fields ->> 'responsible_id';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.version := OLD.version + 1;
        NEW.created_by := OLD.created_by;
        NEW.created_at := OLD.created_at;
    ELSE
        NEW.created_by := session_user;
        NEW.created_at := now();
    END IF;
    NEW.updated_by := session_user;
    NEW.updated_at := now();
    RETURN NEW;
END
$f$;
CREATE TRIGGER hub_record_stamp BEFORE INSERT OR UPDATE ON hub_record
    FOR EACH ROW EXECUTE FUNCTION hub_record_stamp();

-- Every committed write of a record is a feed row; listeners hear of it at commit.
CREATE FUNCTION hub_record_feed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
BEGIN
    INSERT INTO hub_feed (entity, record_id, client)
    VALUES (NEW.entity, NEW.id, nullif(current_setting('hub.client', true), ''));
    -- payload "<entity> <client>": a listener skips its own client's writes
    PERFORM pg_notify('hub_feed', NEW.entity || ' ' || coalesce(current_setting('hub.client', true), ''));
    RETURN NULL;
END
$f$;
CREATE TRIGGER hub_record_feed AFTER INSERT OR UPDATE ON hub_record
    FOR EACH ROW EXECUTE FUNCTION hub_record_feed();

-- A member notes their own sync (crm hub status shows it).
CREATE FUNCTION hub_synced(feed_xid text, feed_seq bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
    UPDATE hub_user SET last_sync_at = now(), last_xid = feed_xid, last_seq = feed_seq WHERE login = session_user
$f$;

ALTER TABLE hub_record ENABLE ROW LEVEL SECURITY;
CREATE POLICY hub_record_member ON hub_record
    USING (hub_can_see(owner)) WITH CHECK (hub_can_see(owner));

ALTER TABLE hub_mail ENABLE ROW LEVEL SECURITY;
CREATE POLICY hub_mail_own ON hub_mail
    USING (owner = session_user) WITH CHECK (owner = session_user);

REVOKE ALL ON hub_user, hub_pipeline, hub_stage, hub_record, hub_feed, hub_mail FROM PUBLIC;
REVOKE ALL ON FUNCTION hub_can_see(text), hub_synced(text, bigint) FROM PUBLIC;
GRANT SELECT ON hub_user, hub_pipeline, hub_stage, hub_feed, hub_alembic_version TO tui_crm_hub;
GRANT INSERT ON hub_pipeline, hub_stage TO tui_crm_hub;
GRANT SELECT, INSERT (entity, id, fields), UPDATE (fields) ON hub_record TO tui_crm_hub;
GRANT SELECT, INSERT, UPDATE, DELETE ON hub_mail TO tui_crm_hub;
GRANT EXECUTE ON FUNCTION hub_can_see(text), hub_synced(text, bigint) TO tui_crm_hub;
"""

DOWNGRADE = """
DROP TABLE hub_mail, hub_feed, hub_record, hub_stage, hub_pipeline, hub_user;
DROP FUNCTION hub_can_see(text), hub_record_stamp(), hub_record_feed(), hub_synced(text, bigint);
"""


def _run(sql: str) -> None:
    # Straight to psycopg (no parameters: several statements in one call, no SQLAlchemy bind parsing).
    op.get_bind().connection.driver_connection.execute(sql)


def upgrade() -> None:
    _run(UPGRADE)


def downgrade() -> None:
    _run(DOWNGRADE)
