"""integrations/marketplaces."""
