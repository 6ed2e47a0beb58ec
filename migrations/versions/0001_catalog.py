"""catalog, workspaces, api keys, webhook secrets and deliveries, jobs

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Money = sa.Numeric(18, 4).with_variant(sa.String(32), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("id", BigId, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("slug", name=op.f("uq_workspaces_slug")),
    )
    op.bulk_insert(
        workspaces,
        [{"slug": "default", "name": "Default workspace", "created_at": datetime.now(UTC)}],
    )

    op.create_table(
        "api_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        ts("created_at"),
        ts("last_used_at", nullable=True),
        ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_workspace_id"), "api_keys", ["workspace_id"])

    op.create_table(
        "webhook_secrets",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        ts("created_at"),
        ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_secrets_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_webhook_secrets_secret_hash")),
    )
    op.create_index(op.f("ix_webhook_secrets_workspace_id"), "webhook_secrets", ["workspace_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("signature_hash", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.BigInteger(), nullable=False),
        ts("received_at"),
        sa.PrimaryKeyConstraint("signature_hash", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_received_at"), "webhook_deliveries", ["received_at"]
    )

    op.create_table(
        "jobs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("params", Json, nullable=False),
        sa.Column("result", Json, nullable=False),
        sa.Column("error_summary", sa.String(2000), nullable=True),
        ts("created_at"),
        ts("started_at", nullable=True),
        ts("completed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_jobs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_workspace_created", "jobs", ["workspace_id", "created_at"])

    op.create_table(
        "products",
        sa.Column("id", BigId, nullable=False),
        sa.Column("workspace_id", BigId, nullable=False),
        sa.Column("source_platform", sa.String(50), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("source_url", sa.String(2048), nullable=True),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(500), nullable=True),
        sa.Column("brand", sa.String(255), nullable=True),
        sa.Column("price", Money, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("images", Json, nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("optimization_score", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_products_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint(
            "workspace_id",
            "source_platform",
            "source_id",
            name=op.f("uq_products_workspace_id_source_platform_source_id"),
        ),
    )
    # The scaling guide's three indexes, then the keyset-page index (newest first).
    op.create_index("ix_products_status", "products", ["status"])
    op.create_index("ix_products_created_at", "products", [sa.text("created_at DESC")])
    op.create_index("ix_products_source_platform", "products", ["source_platform"])
    op.create_index(
        "ix_products_workspace_created_id",
        "products",
        ["workspace_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_table("products")
    op.drop_table("jobs")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
    op.drop_table("api_keys")
    op.drop_table("workspaces")
