"""Domain-free helpers: model bases, JSON, cache, pagination cursors."""
