"""listings: one per product and marketplace

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "listings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("marketplace", sa.String(30), nullable=False),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("bullets", Json, nullable=False),
        sa.Column("keywords", Json, nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("images", Json, nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("score_before", sa.Integer(), nullable=True),
        sa.Column("breakdown", Json, nullable=False),
        sa.Column("issues", Json, nullable=False),
        sa.Column("notes", Json, nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("prompt_version", sa.String(40), nullable=True),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_listings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_listings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint(
            "product_id", "marketplace", name=op.f("uq_listings_product_id_marketplace")
        ),
    )
    op.create_index(
        "ix_listings_workspace_marketplace_status",
        "listings",
        ["workspace_id", "marketplace", "status"],
    )


def downgrade() -> None:
    op.drop_table("listings")
