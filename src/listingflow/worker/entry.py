"""The module `listingflow worker` hands to the Dramatiq CLI: configures the broker and actors."""

from __future__ import annotations

from listingflow.config import settings
from listingflow.logging import configure_logging
from listingflow.worker.broker import setup_broker, use_fast_event_loop

configure_logging(settings.log_level, settings.log_json)
if settings.worker_uvloop:
    use_fast_event_loop()  # before the AsyncIO middleware makes the worker's loop
broker = setup_broker(settings)
