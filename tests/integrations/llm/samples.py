"""Sample data and service addresses shared by the LLM engine tests."""

from __future__ import annotations

import os
from decimal import Decimal

from listingflow.integrations.llm.base import ListingLimits
from listingflow.kit.ratelimit import Budget
from listingflow.rules.types import SourceProduct

REDIS_URL = os.environ.get("LISTINGFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("LISTINGFLOW_REQUIRE_SERVICES") == "1"

# No budget at all unless a test sets one: these tests are about the transport.
UNLIMITED = Budget(rpm=None, rpd=None, tpm=None, tpd=None)

HEADPHONES = SourceProduct(
    title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
    description="Over-ear headphones with up to 30 h of battery life and Bluetooth 5.2.",
    brand="Sony",
    category="Headphones",
    price=Decimal("349.00"),
    currency="EUR",
    attributes={"battery_life": "30 h", "colour": "Black", "weight": "250 g"},
    language="en",
)

AMAZON_LIMITS = ListingLimits(
    title_max=80,
    bullets_max=3,
    bullet_max_chars=120,
    search_terms_max_bytes=60,
    banned_terms=("best", "cheapest"),
    language="en",
)
