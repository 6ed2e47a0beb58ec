"""A product page URL turned into one SourceRow, fetched with the settings' safety caps."""

from __future__ import annotations

from listingflow import config
from listingflow.exceptions import UpstreamUnavailable, ValidationFailed
from listingflow.integrations.sources.base import SourceRow
from listingflow.integrations.sources.page import PageFetchError, read_page

# A fetch that failed because of what the seller gave us is their input error (422); one that
# failed on the remote side (timeout, 5xx) is an upstream problem (502).
_INPUT_REASONS = {"bad_scheme", "private_address", "bad_url", "not_html", "too_large"}


async def page_row(url: str) -> SourceRow:
    settings = config.settings
    try:
        return await read_page(
            url,
            max_bytes=settings.url_fetch_max_bytes,
            timeout=settings.url_fetch_timeout,
            allow_private=settings.url_fetch_allow_private,
        )
    except PageFetchError as exc:
        if exc.reason in _INPUT_REASONS:
            raise ValidationFailed(str(exc), field="url") from exc
        raise UpstreamUnavailable(str(exc), field="url") from exc
