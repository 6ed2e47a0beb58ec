"""Process tuning shared by the server, the CLI and (later) workers.

Imports build hundreds of thousands of short-lived dicts, models and strings per second. With
CPython's default thresholds (700 allocations) the cyclic collector runs thousands of times a
second and its full passes walk every object the process holds: measured on a 40,000-product
batch import, a third of the CPU went to it. Freezing what start-up created (modules, settings,
the app) and raising the young-generation threshold keeps collection for what really is garbage.
Our objects rarely form cycles; reference counting frees them at once either way.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Call once start-up is done."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 50), max(old, 100))
