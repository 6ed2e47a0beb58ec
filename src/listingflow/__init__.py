"""ListingFlow: import products, optimize listings per marketplace, validate and publish them."""

__version__ = "0.1.0"
