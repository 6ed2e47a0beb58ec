"""Optimization: turning a product into a marketplace listing with the offline engine or an LLM."""
