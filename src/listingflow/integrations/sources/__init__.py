"""Readers that turn files, webhooks and product pages into SourceRows (v1 Product fields)."""
