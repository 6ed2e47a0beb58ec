"""List latency: how fast `GET /api/products` answers on a big catalog, at the top and deep down.

A fresh database (PostgreSQL by default, `--backend sqlite` also) is migrated with `listingflow
db upgrade` and filled with N products (default 1,000,000) by set-based SQL straight into the
`products` table: PostgreSQL `INSERT ... SELECT ... FROM generate_series`, SQLite the same over a
recursive CTE, 100,000 rows per statement. created_at is spread over --spread-days with
--chunk rows sharing each timestamp, as a chunked import writes them, so the keyset order
really needs its id tie-break. Then ANALYZE (VACUUM ANALYZE on PostgreSQL). A real `listingflow
serve` (uvicorn, one worker) is started on a free port and an API key created with `listingflow
apikey create`. One keep-alive httpx connection sends sequential requests (warm-up first; the
app caches the total count, so the first request pays the COUNT):

- page 1: `?page_size=20`, --samples times.
- offset deep: `?page=D&page_size=20`, the v1 OFFSET page at depth D = --depth-pages (10,000),
  --offset-samples times: the database reads and throws away D x 20 rows every time.
- cursor walk: from page 1, follow `next_cursor` with page_size=--walk-page-size (100) until
  D x 20 rows are behind us (2,000 requests for D = 10,000). Cursors are opaque and signed, so
  walking is the only honest way to get one at depth; the walk's own latencies are printed too.
- cursor deep: from there, --samples more requests with page_size=20, each following the
  previous next_cursor: pages D+1, D+2, ... so every measured request is at depth >= D pages.

Checks, not timing assertions: the walk must see every row once (no duplicates, no gaps, in
(created_at, id) descending order) and the first cursor page at depth must hold the same
products as the offset page D+1. When the catalog is too small for D pages plus the samples,
D is lowered and the table says so. Latency is wall time of the request and reading the body,
on the same machine (loopback), with the server's log level at WARNING. Everything created is
removed at the end, also after a failure or Ctrl-C.

    .venv/bin/python bench/list_latency.py [--rows 1000000] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _support import Scratch, machine_lines, run_cli, server

PAGE_SIZE = 20
FILL_STEP = 100_000
BACKENDS = ("postgresql", "sqlite")

_NOUNS = (
    "Słuchawki bezprzewodowe",
    "Głośnik Bluetooth",
    "Czajnik elektryczny",
    "Patelnia granitowa",
    "Buty sportowe",
    "Kurtka zimowa",
    "Mata do jogi",
    "Klocki konstrukcyjne",
    "Krem nawilżający",
    "Wąż ogrodowy",
    "Wideorejestrator",
    "Powieść fantasy",
)
_CATEGORIES = (
    "Elektronika > Audio > Słuchawki",
    "Elektronika > Audio > Głośniki przenośne",
    "Dom i ogród > Kuchnia > Czajniki",
    "Dom i ogród > Kuchnia > Patelnie",
    "Moda > Obuwie > Sneakersy",
    "Moda > Odzież > Kurtki",
    "Sport i turystyka > Fitness > Maty",
    "Dziecko > Zabawki > Klocki",
    "Uroda > Pielęgnacja > Kremy",
    "Dom i ogród > Ogród > Nawadnianie",
    "Motoryzacja > Elektronika samochodowa",
    "Kultura i rozrywka > Książki > Fantastyka",
)
_BRANDS = (
    "JBL",
    "Sony",
    "Bosch",
    "Tefal",
    "Nike",
    "adidas",
    "LEGO",
    "Gardena",
    "Philips",
    "Xiaomi",
)
_COLORS = ("czarny", "biały", "niebieski", "czerwony", "szary", "zielony")
_DESCRIPTION = (
    "Produkt fabrycznie nowy, oryginalnie zapakowany. Gwarancja producenta 24 miesiące. "
    "Wysyłka w 24h z magazynu w Polsce, faktura VAT 23%. Zapraszamy do innych ofert!"
)


# --- set-based fill ----------------------------------------------------------------------------


def _pg_array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


# One statement per FILL_STEP rows; %(lo)s..%(hi)s is the slice of 1..N it writes.
PG_FILL = f"""
INSERT INTO products (
    workspace_id, source_platform, source_id, source_url, title, description, category, brand,
    price, currency, images, attributes, status, optimization_score, content_hash,
    created_at, updated_at
)
SELECT
    1,
    p.platform,
    'bench-' || g,
    'https://allegro.pl/oferta/produkt-' || g,
    ({_pg_array(_NOUNS)})[1 + mod(g, 12)] || ' ' || ({_pg_array(_BRANDS)})[1 + mod(g / 12, 10)]
        || ' ' || upper(substr(md5(g::text), 1, 6)) || ' ' || ({_pg_array(_COLORS)})[1 + mod(g, 6)],
    ({_pg_array(_NOUNS)})[1 + mod(g, 12)] || '. ' || '{_DESCRIPTION.replace("%", "%%")}',
    ({_pg_array(_CATEGORIES)})[1 + mod(g, 12)],
    ({_pg_array(_BRANDS)})[1 + mod(g / 12, 10)],
    round(5 + mod(g * 7919, 500000) / 100.0, 2),
    CASE WHEN p.platform = 'amazon' THEN 'EUR' ELSE 'PLN' END,
    jsonb_build_array(
        'https://images.example.com/bench/' || g || '/1.jpg',
        'https://images.example.com/bench/' || g || '/2.jpg'
    ),
    jsonb_build_object(
        'color', ({_pg_array(_COLORS)})[1 + mod(g, 6)], 'ean', '590' || lpad(g::text, 10, '0')
    ),
    s.status,
    CASE WHEN s.status IN ('optimized', 'published') THEN 40 + mod(g, 60) END,
    md5(g::text) || md5('x' || g::text),
    t.at,
    t.at
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
CROSS JOIN LATERAL (SELECT CASE
    WHEN mod(g, 10) < 6 THEN 'allegro' WHEN mod(g, 10) < 8 THEN 'amazon'
    WHEN mod(g, 10) < 9 THEN 'ebay' ELSE 'woocommerce' END AS platform) AS p
CROSS JOIN LATERAL (SELECT CASE
    WHEN mod(g, 20) < 12 THEN 'imported' WHEN mod(g, 20) < 16 THEN 'optimized'
    WHEN mod(g, 20) < 19 THEN 'published' ELSE 'failed' END AS status) AS s
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz
    + ((g - 1) / %(chunk)s::bigint) * make_interval(secs => %(step)s::double precision) AS at) AS t
"""


def _sqlite_pick(values: tuple[str, ...], index_sql: str) -> str:
    items = ", ".join('"' + v.replace('"', '\\"') + '"' for v in values)
    return f"json_extract('[{items}]', '$[' || ({index_sql}) || ']')"


SQLITE_FILL = f"""
WITH RECURSIVE g(n) AS (SELECT :lo UNION ALL SELECT n + 1 FROM g WHERE n < :hi)
INSERT INTO products (
    workspace_id, source_platform, source_id, source_url, title, description, category, brand,
    price, currency, images, attributes, status, optimization_score, content_hash,
    created_at, updated_at
)
SELECT
    1,
    CASE WHEN n % 10 < 6 THEN 'allegro' WHEN n % 10 < 8 THEN 'amazon'
         WHEN n % 10 < 9 THEN 'ebay' ELSE 'woocommerce' END,
    'bench-' || n,
    'https://allegro.pl/oferta/produkt-' || n,
    {_sqlite_pick(_NOUNS, "n % 12")} || ' ' || {_sqlite_pick(_BRANDS, "(n / 12) % 10")}
        || ' ' || upper(substr(printf('%x', n * 2654435761), 1, 6))
        || ' ' || {_sqlite_pick(_COLORS, "n % 6")},
    {_sqlite_pick(_NOUNS, "n % 12")} || '. ' || '{_DESCRIPTION}',
    {_sqlite_pick(_CATEGORIES, "n % 12")},
    {_sqlite_pick(_BRANDS, "(n / 12) % 10")},
    printf('%.2f', 5 + (n * 7919 % 500000) / 100.0),
    CASE WHEN n % 10 IN (6, 7) THEN 'EUR' ELSE 'PLN' END,
    json_array(
        'https://images.example.com/bench/' || n || '/1.jpg',
        'https://images.example.com/bench/' || n || '/2.jpg'
    ),
    json_object('color', {_sqlite_pick(_COLORS, "n % 6")}, 'ean', '590' || printf('%010d', n)),
    CASE WHEN n % 20 < 12 THEN 'imported' WHEN n % 20 < 16 THEN 'optimized'
         WHEN n % 20 < 19 THEN 'published' ELSE 'failed' END,
    CASE WHEN n % 20 BETWEEN 12 AND 18 THEN 40 + n % 60 END,
    printf('%064x', n),
    strftime('%Y-%m-%d %H:%M:%S', :start + ((n - 1) / :chunk) * :step, 'unixepoch') || '.000000',
    strftime('%Y-%m-%d %H:%M:%S', :start + ((n - 1) / :chunk) * :step, 'unixepoch') || '.000000'
FROM g
"""


def fill(scratch: Scratch, rows: int, *, chunk: int, spread_days: float) -> float:
    """Write `rows` products with set-based SQL; returns the seconds it took (ANALYZE included)."""
    groups = max(1, -(-rows // chunk))
    step = max(1, int(spread_days * 86_400 / groups))
    start_epoch = int(time.time()) - groups * step
    started = time.perf_counter()
    if scratch.backend == "postgresql":
        start_ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_epoch))
        with psycopg.connect(scratch.url, autocommit=True) as conn:
            for lo in range(1, rows + 1, FILL_STEP):
                hi = min(rows, lo + FILL_STEP - 1)
                params = {"lo": lo, "hi": hi, "start": start_ts, "chunk": chunk, "step": step}
                conn.execute(PG_FILL, params)
                _progress(hi, rows, started)
            conn.execute("VACUUM (ANALYZE) products")
    else:
        with contextlib.closing(sqlite3.connect(scratch.sqlite_path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for lo in range(1, rows + 1, FILL_STEP):
                hi = min(rows, lo + FILL_STEP - 1)
                params = {"lo": lo, "hi": hi, "start": start_epoch, "chunk": chunk, "step": step}
                with conn:
                    conn.execute(SQLITE_FILL, params)
                _progress(hi, rows, started)
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(file=sys.stderr)
    return time.perf_counter() - started


def _progress(done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"\r  filled {done:,}/{total:,} rows in {elapsed:.0f} s", end="", file=sys.stderr)


# --- machine, processes, databases -------------------------------------------------------------


# --- measuring ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Series:
    name: str
    note: str
    latencies_ms: list[float]

    def row(self) -> str:
        data = sorted(self.latencies_ms)
        if len(data) >= 2:
            cuts = statistics.quantiles(data, n=100, method="inclusive")
            p50, p95, p99 = cuts[49], cuts[94], cuts[98]
        else:
            p50 = p95 = p99 = data[0] if data else float("nan")
        worst = data[-1] if data else float("nan")
        return (
            f"| {self.name} | {len(data):,} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {worst:.1f} "
            f"| {self.note} |"
        )


class Client:
    """Sequential GETs over one keep-alive connection, each timed to the last body byte."""

    def __init__(self, base: str, key: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120)

    def close(self) -> None:
        self.http.close()

    def page(self, **params: Any) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        response = self.http.get("/api/products", params=params)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(
                f"GET {response.url} answered {response.status_code}: {response.text[:300]}"
            )
        return elapsed_ms, response.json()

    def repeat(self, times: int, **params: Any) -> list[float]:
        return [self.page(**params)[0] for _ in range(times)]


def _key(item: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(str(item["created_at"])), int(item["id"])


def measure(client: Client, args: argparse.Namespace, rows: int) -> tuple[list[Series], list[str]]:
    notes: list[str] = []
    depth = min(args.depth_pages, (rows - args.samples * PAGE_SIZE) // PAGE_SIZE)
    if depth < 1:
        raise SystemExit(f"--rows {rows:,} is too small for {args.samples} samples of a deep page")
    if depth < args.depth_pages:
        notes.append(
            f"depth lowered from {args.depth_pages:,} to {depth:,} pages: only {rows:,} rows"
        )

    client.repeat(args.warmup, page_size=PAGE_SIZE)  # the first one also fills the count cache
    top = client.repeat(args.samples, page_size=PAGE_SIZE)

    client.repeat(min(3, args.offset_samples), page=depth, page_size=PAGE_SIZE)
    offset = client.repeat(args.offset_samples, page=depth, page_size=PAGE_SIZE)

    # Walk to depth by following next_cursor, checking order and that no row repeats or is lost.
    target_rows = depth * PAGE_SIZE
    seen: set[int] = set()
    walk: list[float] = []
    cursor: str | None = None
    last: tuple[datetime, int] | None = None
    while len(seen) < target_rows:
        size = min(args.walk_page_size, target_rows - len(seen))
        params: dict[str, Any] = {"page_size": size}
        if cursor:
            params["cursor"] = cursor
        elapsed, body = client.page(**params)
        walk.append(elapsed)
        for item in body["items"]:
            key = _key(item)
            if item["id"] in seen or (last is not None and key >= last):
                raise RuntimeError(f"cursor walk out of order or repeated at product {item['id']}")
            seen.add(item["id"])
            last = key
        cursor = body["next_cursor"]
        if not cursor or len(body["items"]) != size:
            raise RuntimeError(f"cursor walk ended early after {len(seen):,} rows")
    walk_requests = len(walk)

    _, same_page = client.page(page=depth + 1, page_size=PAGE_SIZE)
    deep: list[float] = []
    first_deep: list[int] = []
    for i in range(args.samples):
        elapsed, body = client.page(page_size=PAGE_SIZE, cursor=cursor)
        deep.append(elapsed)
        if i == 0:
            first_deep = [item["id"] for item in body["items"]]
        for item in body["items"]:
            if item["id"] in seen:
                raise RuntimeError(f"cursor page repeated product {item['id']}")
            seen.add(item["id"])
        cursor = body["next_cursor"]
        if not cursor and i < args.samples - 1:
            raise RuntimeError("ran out of pages while sampling deep cursor pages")
    matches = first_deep == [item["id"] for item in same_page["items"]]
    notes.append(
        f"cursor walk: {len(seen):,} distinct products in order, no repeats; cursor page "
        f"{depth + 1:,} {'equals' if matches else 'DIFFERS FROM'} offset page {depth + 1:,}"
    )
    series = [
        Series("page 1 (`?page_size=20`)", "newest first; count cached", top),
        Series(
            f"offset `?page={depth:,}&page_size=20`",
            f"v1 paging: skips {(depth - 1) * PAGE_SIZE:,} rows per request",
            offset,
        ),
        Series(
            f"cursor walk, page_size={args.walk_page_size}",
            f"{walk_requests:,} requests from page 1 down to row {target_rows:,}",
            walk,
        ),
        Series(
            "cursor at depth, page_size=20",
            f"pages {depth + 1:,}..{depth + args.samples:,} via next_cursor",
            deep,
        ),
    ]
    return series, notes


# --- driver ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="products in the catalog")
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("--depth-pages", type=int, default=10_000, help="deep page (of 20 rows)")
    parser.add_argument(
        "--samples", type=int, default=500, help="requests per page-1/cursor series"
    )
    parser.add_argument(
        "--offset-samples", type=int, default=30, help="requests at the deep offset"
    )
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--walk-page-size", type=int, default=100, help="page size of the walk")
    parser.add_argument("--chunk", type=int, default=1000, help="rows sharing one created_at")
    parser.add_argument("--spread-days", type=float, default=365.0, help="created_at range")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="temporary files (default: $TMPDIR)"
    )
    args = parser.parse_args(argv)
    if args.rows < 1_000:
        parser.error("--rows must be at least 1000")
    if not 1 <= args.walk_page_size <= 100:
        parser.error("--walk-page-size must be 1..100 (the API's page_size cap)")
    if args.samples < 2 or args.offset_samples < 2:
        parser.error("--samples and --offset-samples need at least 2 requests")
    if args.chunk < 1 or args.depth_pages < 1:
        parser.error("--chunk and --depth-pages must be positive")
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # unwind like Ctrl-C so everything is cleaned up
    try:
        with Scratch(args.backend, args.workdir, args.pg_admin_url) as scratch:
            print(f"ListingFlow list latency: {args.rows:,} products on {args.backend}")
            for line in machine_lines(scratch.url if scratch.backend == "postgresql" else None):
                print("  " + line)
            print(f"filling {args.rows:,} rows ...", file=sys.stderr)
            seconds = fill(scratch, args.rows, chunk=args.chunk, spread_days=args.spread_days)
            print(f"  fill: {args.rows:,} rows by set-based SQL + ANALYZE in {seconds:.1f} s")
            key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
            with server(scratch, args.server_workers) as (base, _pid):
                client = Client(base, key)
                try:
                    print("measuring ...", file=sys.stderr)
                    series, notes = measure(client, args, args.rows)
                finally:
                    client.close()
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print()
    print("| request | n | p50 ms | p95 ms | p99 ms | max ms | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for one in series:
        print(one.row())
    for note in notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
