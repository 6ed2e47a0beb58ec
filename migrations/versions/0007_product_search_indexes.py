"""products: index for status-filtered pages, counts and stats; trigram search indexes

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30

Found by tests/db/test_indexes.py (200,000 products, EXPLAIN of the repository's SQL): the
count of a common status and the stats read the whole table, and the title / source id search
(`lower(x) LIKE '%...%'`) could only scan. The trigram indexes need the pg_trgm extension
(trusted: the database owner may create it); SQLite gets only the composite index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_products_workspace_status_created_id",
        "products",
        ["workspace_id", "status", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_include=["optimization_score", "updated_at"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in ("title", "source_id"):
            op.create_index(
                f"ix_products_{column}_trgm",
                "products",
                [sa.text(f"lower({column}) gin_trgm_ops")],
                postgresql_using="gin",
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in ("title", "source_id"):
            op.drop_index(f"ix_products_{column}_trgm", table_name="products")
    op.drop_index("ix_products_workspace_status_created_id", table_name="products")
