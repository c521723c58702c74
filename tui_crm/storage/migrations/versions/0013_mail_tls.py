"""Mail over TLS: the certificate authority a mailbox trusts

Revision ID: 0013_mail_tls
Revises: 0010_import
Create Date: 2026-12-04 17:50:00

A company mail server with its own (self-signed or private-CA) certificate
is trusted per mailbox: ``crm mail add --ca-file CA.pem`` keeps the PEM text
in ``mailbox.ca_pem`` (a certificate is public, not a secret), so the
mailbox keeps working when the file moves and on every machine sharing the
store. Empty: the system's trusted authorities.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013_mail_tls"
down_revision = "0010_import"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ca_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_column("ca_pem")
