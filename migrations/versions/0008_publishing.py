"""publishing: marketplace connections, publish attempts, the listing's remote side

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "marketplace_connections",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("marketplace", sa.String(30), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=True),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.Column("checked_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_marketplace_connections_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_connections")),
        sa.UniqueConstraint("workspace_id", "marketplace", "name", name="uq_connection_name"),
    )
    op.create_table(
        "publish_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("listing_id", BigId, nullable=True),
        sa.Column("connection_id", BigId, nullable=True),
        sa.Column("job_id", BigId, nullable=True),
        sa.Column("marketplace", sa.String(30), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("remote_id", sa.String(200), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("issues", Json, nullable=False),
        sa.Column("request_summary", Json, nullable=False),
        sa.Column("price", Json, nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_publish_attempts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_publish_attempts_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_publish_attempts_listing_id_listings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["marketplace_connections.id"],
            name=op.f("fk_publish_attempts_connection_id_marketplace_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_publish_attempts_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_attempts")),
    )
    op.create_index(
        "ix_publish_attempts_product",
        "publish_attempts",
        ["workspace_id", "product_id", "created_at"],
    )
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("remote_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("publication_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("published_at", When, nullable=True))
        batch.add_column(sa.Column("publication_error", sa.String(2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("publication_error")
        batch.drop_column("published_at")
        batch.drop_column("publication_status")
        batch.drop_column("remote_id")
    op.drop_index("ix_publish_attempts_product", table_name="publish_attempts")
    op.drop_table("publish_attempts")
    op.drop_table("marketplace_connections")
