"""UI latency: how fast the web products page (50 rows) renders on a big catalog.

A fresh database (PostgreSQL by default, `--backend sqlite` also) is migrated and filled with N
products (default 1,000,000) by the same set-based SQL as bench/list_latency.py (`fill`), a user
is made with `listingflow user create`, a real `listingflow serve` is started on a free port and
one keep-alive httpx client signs in through the login form. Then sequential GETs, each timed to
the last byte of the HTML (server render plus loopback), after --warmup unmeasured ones:

- products page 1: `/products` (50 rows, newest first, listings of the page, the cached count).
- status filter: `/products?status=optimized`.
- cursor pages: following the page's "Next 50" link --samples times (keyset, constant cost).
- search: `/products?q=...` (a substring of title or source id: a scan, so shown apart; the
  100 ms target is for browsing, not for free-text search over a million rows).

Checks, not timing assertions: every page holds 50 product rows and the walk never repeats a
product. Everything created is removed at the end.

    .venv/bin/python bench/ui_latency.py [--rows 1000000] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import html
import re
import signal
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg
from _support import Scratch, machine_lines, run_cli, server
from list_latency import BACKENDS, fill

EMAIL = "bench@example.com"
PASSWORD = "bench password 123"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ROW = re.compile(r'name="product_ids" value="(\d+)"')
_NEXT = re.compile(r'href="([^"]+)" rel="next"')


def sign_in(http: httpx.Client) -> None:
    form = http.get("/login")
    token = _CSRF.search(form.text)
    if token is None:
        raise RuntimeError("the login page has no CSRF field")
    done = http.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if done.status_code != 303:
        raise RuntimeError(f"sign-in failed: {done.status_code}")


def timed(http: httpx.Client, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = http.get(url)
    text = response.text
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return elapsed, text


def row(name: str, data: list[float], note: str) -> str:
    data = sorted(data)
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return f"| {name} | {len(data):,} | {cuts[49]:.1f} | {cuts[94]:.1f} | {data[-1]:.1f} | {note} |"


def measure(http: httpx.Client, args: argparse.Namespace) -> list[str]:
    rows: list[str] = []
    for _ in range(args.warmup):
        timed(http, "/products")
    for name, url, note in [
        ("products page 1", "/products", "50 rows, newest first"),
        ("status filter", "/products?status=optimized", "50 rows"),
    ]:
        latencies = []
        for _ in range(args.samples):
            ms, text = timed(http, url)
            latencies.append(ms)
        if len(_ROW.findall(text)) != 50:
            raise RuntimeError(f"{url} did not show 50 rows")
        rows.append(row(name, latencies, note))
    seen: set[str] = set()
    latencies = []
    _, text = timed(http, "/products")
    for _ in range(args.samples):
        link = _NEXT.search(text)
        if link is None:
            raise RuntimeError("the walk ran out of pages")
        url = html.unescape(link.group(1))
        ms, text = timed(http, url)
        latencies.append(ms)
        ids = _ROW.findall(text)
        if len(ids) != 50 or seen.intersection(ids):
            raise RuntimeError("a cursor page repeated products or was short")
        seen.update(ids)
    rows.append(row("cursor pages", latencies, f"pages 2..{args.samples + 1}, keyset"))
    latencies = []
    for i in range(args.search_samples):
        ms, _ = timed(http, f"/products?q=bench-{(i * 7919) % args.rows + 1}1")
        latencies.append(ms)
    rows.append(row("search q", latencies, "substring of title/source id: a scan"))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="products in the catalog")
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("--samples", type=int, default=200, help="requests per series")
    parser.add_argument("--search-samples", type=int, default=10, help="search requests")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--chunk", type=int, default=1000, help="rows sharing one created_at")
    parser.add_argument("--spread-days", type=float, default=365.0, help="created_at range")
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="temporary files")
    args = parser.parse_args(argv)
    if args.rows < 50 * (args.samples + 2):
        parser.error("--rows must cover --samples + 2 pages of 50")
    if args.samples < 2 or args.search_samples < 2:
        parser.error("--samples and --search-samples need at least 2 requests")
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Scratch(args.backend, args.workdir, args.pg_admin_url) as scratch:
            print(
                f"ListingFlow UI latency: products page on {args.rows:,} products, {args.backend}"
            )
            for line in machine_lines(scratch.url if scratch.backend == "postgresql" else None):
                print("  " + line)
            print(f"filling {args.rows:,} rows ...", file=sys.stderr)
            seconds = fill(scratch, args.rows, chunk=args.chunk, spread_days=args.spread_days)
            print(f"  fill: {args.rows:,} rows by set-based SQL + ANALYZE in {seconds:.1f} s")
            run_cli(scratch, "user", "create", "--email", EMAIL, "--password", PASSWORD)
            with (
                server(scratch, 1) as (base, _pid),
                httpx.Client(base_url=base, timeout=120) as http,
            ):
                sign_in(http)
                print("measuring ...", file=sys.stderr)
                rows = measure(http, args)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print()
    print("| page | n | p50 ms | p95 ms | max ms | note |")
    print("|---|---:|---:|---:|---:|---|")
    for line in rows:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
