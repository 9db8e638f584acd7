"""Detect: each series' record (highest and lowest value, and since when) next to its watermark.

The record check of detection.records flags a value beyond everything a series has shown over a
year or more; the live service keeps the record here, updated with each judged batch, instead of
reading a year of samples every cycle.

Revision ID: 000008
Revises: 000007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "000008"
down_revision = "000007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detect_state") as batch:
        batch.add_column(sa.Column("record_high", sa.Double, nullable=True))
        batch.add_column(sa.Column("record_low", sa.Double, nullable=True))
        batch.add_column(sa.Column("record_since", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("detect_state") as batch:
        batch.drop_column("record_since")
        batch.drop_column("record_low")
        batch.drop_column("record_high")
