"""integrations/llm."""
