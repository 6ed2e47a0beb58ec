"""Dashboard figures: counts by marketplace and activity per day."""
