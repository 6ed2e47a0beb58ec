"""Listings: a product as it will appear on one marketplace; edits, validation, approval."""
