"""Imports every domain's actors so they register; the only module that does."""

from __future__ import annotations

from typing import Any

from listingflow.optimization.tasks import optimize_job_item

ACTORS: tuple[Any, ...] = (optimize_job_item,)
# The actor that runs one item of a job of each kind (retries and the sweeper resend with it).
ACTOR_FOR_KIND: dict[str, Any] = {"optimize": optimize_job_item}
