"""The process's Prometheus counters, in one place any layer may record into (cache, HTTP
middleware, the LLM engine, the marketplace HTTP layer): prometheus-client objects and tiny
recording functions, no I/O. Exposition and the scrape-time gauges live in `ops/metrics.py`.

Several processes behind one port (`listingflow serve --workers N`) share their figures through
prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by `serve`); the gauges
here say how to combine processes (`multiprocess_mode`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets (seconds) around the guide's p95 lines (500 ms healthy, 1,000 ms scale now).
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)

HTTP_REQUESTS = Counter(
    "listingflow_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "listingflow_http_request_duration_seconds",
    "Time to the response's first byte (headers), by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_ERRORS = Counter(
    "listingflow_http_errors",
    "Responses with a 5xx status (unhandled exceptions included), by method and route template.",
    ["method", "route"],
)
DB_POOL_IN_USE = Gauge(
    "listingflow_db_pool_connections_in_use",
    "Database connections checked out of the pool now (summed over live processes).",
    ["engine"],
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "listingflow_db_pool_connections_max",
    "Most connections the pool may open: pool_size + max_overflow (summed over live processes).",
    ["engine"],
    multiprocess_mode="livesum",
)
DB_QUERIES = Counter(
    "listingflow_db_queries",
    "SQL statements sent to the database by the API.",
    ["engine"],
)
CACHE_REQUESTS = Counter(
    "listingflow_cache_requests",
    "Cache lookups by backend (memory, redis), key kind (stats, page, count, ...) and result.",
    ["backend", "kind", "result"],
)
LLM_CALLS = Counter(
    "listingflow_llm_calls",
    "Calls to the LLM provider by model and outcome (ok, rate_limited, error).",
    ["model", "outcome"],
)
LLM_TOKENS = Counter(
    "listingflow_llm_tokens",
    "Tokens the LLM provider counted, by model and kind (prompt, completion).",
    ["model", "kind"],
)
LLM_RATE_LIMITED = Counter(
    "listingflow_llm_rate_limited",
    "HTTP 429 answers from the LLM provider, by model.",
    ["model"],
)
MARKETPLACE_CALLS = Counter(
    "listingflow_marketplace_calls",
    "Calls to marketplace APIs by marketplace and outcome.",
    ["marketplace", "outcome"],
)
MARKETPLACE_ERRORS = Counter(
    "listingflow_marketplace_errors",
    "Marketplace calls that did not succeed, by marketplace and outcome.",
    ["marketplace", "outcome"],
)

# Label values are bounded: anything else is recorded as "other".
MARKETPLACE_OUTCOMES = frozenset(
    {"ok", "rate_limited", "client_error", "server_error", "auth_error", "timeout", "network"}
)
LLM_OUTCOMES = frozenset({"ok", "rate_limited", "error"})


def cache_lookup(backend: str, key: str, *, hit: bool) -> None:
    """One cache get. The key kind is the builder's first part (`lf:<kind>:...`)."""
    parts = key.split(":", 2)
    kind = parts[1] if len(parts) > 2 and parts[0] == "lf" else "other"
    CACHE_REQUESTS.labels(backend, kind, "hit" if hit else "miss").inc()


def llm_call(
    model: str, outcome: str, *, prompt_tokens: int = 0, completion_tokens: int = 0
) -> None:
    """One HTTP call to the LLM provider: `ok`, `rate_limited` (a 429) or `error`."""
    outcome = outcome if outcome in LLM_OUTCOMES else "error"
    LLM_CALLS.labels(model, outcome).inc()
    if outcome == "rate_limited":
        LLM_RATE_LIMITED.labels(model).inc()
    if prompt_tokens:
        LLM_TOKENS.labels(model, "prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels(model, "completion").inc(completion_tokens)


def marketplace_call(marketplace: str, outcome: str) -> None:
    """One HTTP call to a marketplace API (the marketplace HTTP layer calls this).

    `outcome`: ok, rate_limited (429), client_error (other 4xx), auth_error (401/403),
    server_error (5xx), timeout or network; anything else is counted as `other`.
    """
    outcome = outcome if outcome in MARKETPLACE_OUTCOMES else "other"
    MARKETPLACE_CALLS.labels(marketplace, outcome).inc()
    if outcome != "ok":
        MARKETPLACE_ERRORS.labels(marketplace, outcome).inc()
