"""The outside world (marketplaces, LLMs, product sources), each behind a Protocol; no database."""
