"""Imports every domain's actors so they register; the only module that does."""

from __future__ import annotations

from typing import Any

from listingflow.optimization.tasks import optimize_job_item
from listingflow.publication.tasks import follow_up_publication, publish_job_items

ACTORS: tuple[Any, ...] = (optimize_job_item, publish_job_items, follow_up_publication)
# The actor that runs the items of a job of each kind (retries and the sweeper resend with it).
ACTOR_FOR_KIND: dict[str, Any] = {"optimize": optimize_job_item, "publish": publish_job_items}
# Kinds whose actor takes a list of item ids (a marketplace's bulk call), and the list's size.
BATCH_FOR_KIND: dict[str, int] = {"publish": 25}
