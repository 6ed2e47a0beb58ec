"""Readers that turn files, webhooks and product pages into SourceRow records (v1 Product fields)."""
