"""The module `listingflow worker` hands to the Dramatiq CLI: configures the broker and actors."""

from __future__ import annotations

from listingflow.config import settings
from listingflow.logging import configure_logging
from listingflow.worker.broker import setup_broker

configure_logging(settings.log_level, settings.log_json)
broker = setup_broker(settings)
