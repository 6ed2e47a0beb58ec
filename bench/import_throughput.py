"""Import throughput: products per second through the API batch route and the CLI file import.

For every backend (SQLite, PostgreSQL) and size N (default 10,000 and 100,000 rows):

- api: a real `listingflow serve` (uvicorn, one worker unless --server-workers) on a free port
  over a fresh, migrated database; an API key from `listingflow apikey create`; N synthetic
  products POSTed to `/api/import/batch?source=allegro` in batches of 5,000 (under the 10,000
  item and 20 MB caps) with httpx from this process over --concurrency keep-alive connections.
  Request bodies are serialized before the clock starts, so the figure is the server's (plus
  loopback HTTP): wall time from the first request to the last response, every item checked.
  Its peak RSS is the server process's VmHWM from /proc (the largest worker's, if several).
- cli: an N-row CSV (the plain layout of examples/catalog.csv) imported into a fresh database
  by `listingflow import FILE` in a child process. Wall time covers the whole command,
  interpreter start-up and the migration check included (the header prints the start-up
  alone); the peak RSS is the child's own ru_maxrss from os.wait4, not a sample.
- psycopg (PostgreSQL only): the ceiling. The same N rows upserted into a fresh migrated
  database by bare psycopg 3 `executemany` of `INSERT ... ON CONFLICT (workspace_id,
  source_platform, source_id) DO UPDATE ... WHERE content_hash differs` (the statement the app
  issues, without RETURNING), 5,000 rows per executemany and commit. Only the database calls
  are timed, not building the parameters. The api and cli rows print their rate as a fraction
  of this baseline.

Sizes above --api-max-rows (default 100,000) run the cli and psycopg modes only: `--rows
1000000` measures the 1M-row CSV. Every database is created for the run (PostgreSQL:
`listingflow_bench_<random>` through --pg-admin-url, dropped afterwards; SQLite: a file in a
temporary directory, removed), and servers are stopped, also when a step fails or on Ctrl-C.
Every imported row is counted back from the database before a figure is printed.

    .venv/bin/python bench/import_throughput.py [--rows 10000,100000]
        [--backends sqlite,postgresql] [--modes api,cli] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from _support import Scratch, listingflow_bin, machine_lines, run_cli, server, tail
from psycopg.types.json import Jsonb

BATCH_SIZE = 5_000
BASELINE_CHUNK = 5_000
CSV_HEADER = (
    "source_platform,source_id,source_url,title,description,category,brand,price,currency,"
    "images,color,material,size,ean"
)
BACKENDS = ("sqlite", "postgresql")
MODES = ("api", "cli")

# --- synthetic products ------------------------------------------------------------------------

_NOUNS = (
    ("Słuchawki bezprzewodowe", "Elektronika > Audio > Słuchawki"),
    ("Głośnik Bluetooth", "Elektronika > Audio > Głośniki przenośne"),
    ("Czajnik elektryczny", "Dom i ogród > Kuchnia > Czajniki"),
    ("Patelnia granitowa", "Dom i ogród > Kuchnia > Patelnie"),
    ("Buty sportowe", "Moda > Obuwie > Sneakersy"),
    ("Kurtka zimowa", "Moda > Odzież > Kurtki"),
    ("Mata do jogi", "Sport i turystyka > Fitness > Maty"),
    ("Klocki konstrukcyjne", "Dziecko > Zabawki > Klocki"),
    ("Krem nawilżający", "Uroda > Pielęgnacja > Kremy"),
    ("Wąż ogrodowy", "Dom i ogród > Ogród > Nawadnianie"),
    ("Wideorejestrator", "Motoryzacja > Elektronika samochodowa"),
    ("Powieść fantasy", "Kultura i rozrywka > Książki > Fantastyka"),
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
_MATERIALS = ("tworzywo sztuczne", "bawełna", "stal nierdzewna", "aluminium", "guma")


@dataclass(frozen=True, slots=True)
class Product:
    """One synthetic product, the same for every mode so the figures compare."""

    source_id: str
    source_url: str
    title: str
    description: str
    category: str
    brand: str
    price: str
    images: tuple[str, ...]
    color: str
    material: str
    ean: str

    def api_item(self) -> dict[str, Any]:
        return {
            "source_platform": "allegro",
            "source_id": self.source_id,
            "source_url": self.source_url,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "brand": self.brand,
            "price": float(self.price),
            "currency": "PLN",
            "images": list(self.images),
            "attributes": self.attributes(),
        }

    def attributes(self) -> dict[str, str]:
        return {"color": self.color, "material": self.material, "ean": self.ean}

    def csv_line(self) -> str:
        cells = (
            "allegro",
            self.source_id,
            self.source_url,
            self.title,
            self.description,
            self.category,
            self.brand,
            self.price,
            "PLN",
            "|".join(self.images),
            self.color,
            self.material,
            "",
            self.ean,
        )
        return ",".join(_csv_cell(cell) for cell in cells)


def _csv_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def synthetic_products(count: int, *, seed: int = 7) -> Iterator[Product]:
    """Plausible Allegro-style products with unique source ids, generated lazily."""
    rng = random.Random(seed)
    for i in range(count):
        noun, category = _NOUNS[i % len(_NOUNS)]
        brand = _BRANDS[rng.randrange(len(_BRANDS))]
        color = _COLORS[rng.randrange(len(_COLORS))]
        source_id = f"{13_000_000_000 + i}"
        model = f"{chr(65 + rng.randrange(26))}{rng.randrange(100, 9999)}"
        title = f"{noun} {brand} {model} {color}"
        yield Product(
            source_id=source_id,
            source_url=f"https://allegro.pl/oferta/produkt-{model.lower()}-{source_id}",
            title=title,
            description=(
                f"{title}. Produkt fabrycznie nowy, oryginalnie zapakowany. Gwarancja producenta "
                f"24 miesiące. Wysyłka w 24h z magazynu w Polsce, faktura VAT 23%. Partia {i}."
            ),
            category=category,
            brand=brand,
            price=f"{rng.randrange(500, 500_000) / 100:.2f}",
            images=tuple(
                f"https://images.example.com/bench/{source_id}/{n}.jpg" for n in range(1, 2 + i % 3)
            ),
            color=color,
            material=_MATERIALS[rng.randrange(len(_MATERIALS))],
            ean=f"590{rng.randrange(10**9, 10**10)}",
        )


# --- machine, processes, databases -------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """Largest VmHWM (peak resident set) of a process and its children, from /proc (Linux)."""
    pids = [pid]
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    peaks = []
    for one in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks) if peaks else None


# --- the three measurements --------------------------------------------------------------------


@dataclass(slots=True)
class Figure:
    backend: str
    rows: int
    mode: str
    seconds: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def rate(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None


def measure_api(
    scratch: Scratch, rows: int, *, concurrency: int, workers: int, batch_size: int
) -> Figure:
    key = run_cli(scratch, "apikey", "create", "--name", "bench").strip()
    bodies: list[tuple[int, bytes]] = []
    batch: list[dict[str, Any]] = []
    for product in synthetic_products(rows):
        batch.append(product.api_item())
        if len(batch) == batch_size:
            bodies.append((len(batch), orjson.dumps(batch)))
            batch = []
    if batch:
        bodies.append((len(batch), orjson.dumps(batch)))
    largest_mb = max(len(body) for _, body in bodies) / 1e6
    pending: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
    for item in bodies:
        pending.put(item)
    errors: list[str] = []

    def send_all(client: httpx.Client) -> None:
        while not errors:
            try:
                expected, body = pending.get_nowait()
            except queue.Empty:
                return
            try:
                response = client.post(
                    "/api/import/batch", params={"source": "allegro"}, content=body
                )
            except httpx.HTTPError as exc:
                errors.append(f"batch request failed: {exc!r}")
                return
            if response.status_code != 200:
                errors.append(f"batch answered {response.status_code}: {response.text[:500]}")
                return
            answer = response.json()
            if answer["success_count"] != expected or answer["failed_count"]:
                errors.append(f"batch imported {answer['success_count']} of {expected}")

    with server(scratch, workers) as (base, pid):
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        with contextlib.ExitStack() as stack:
            clients = [
                stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=600))
                for _ in range(concurrency)
            ]
            for client in clients:
                client.get("/health")  # open the keep-alive connection before the clock starts
            threads = [threading.Thread(target=send_all, args=(c,)) for c in clients]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
        server_rss = peak_rss_mb(pid)
    if errors:
        raise RuntimeError(errors[0])
    stored = scratch.count_products()
    if stored != rows:
        raise RuntimeError(f"api: {stored} products stored, expected {rows}")
    note = (
        f"{len(bodies)} requests of <= {batch_size} items (largest {largest_mb:.1f} MB), "
        f"{concurrency} connection(s), {workers} server worker(s)"
    )
    return Figure(scratch.backend, rows, "api", seconds=seconds, peak_rss_mb=server_rss, note=note)


def cli_startup_seconds() -> float:
    """Wall time of `listingflow --help`: the interpreter and import cost in every cli figure."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([listingflow_bin(), "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(CSV_HEADER + "\n")
        lines: list[str] = []
        for product in synthetic_products(rows):
            lines.append(product.csv_line())
            if len(lines) == 10_000:
                fh.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            fh.write("\n".join(lines) + "\n")


def measure_cli(scratch: Scratch, rows: int, csv_path: Path) -> Figure:
    with (scratch.dir / "import.log").open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [listingflow_bin(), "import", str(csv_path)],
            env=scratch.env(),
            cwd=scratch.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # wait4 reaps this child only and returns its own resource usage (ru_maxrss in KiB).
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"`listingflow import` exited {proc.returncode}:\n{tail(scratch.dir / 'import.log')}"
        )
    stored = scratch.count_products()
    if stored != rows:
        raise RuntimeError(f"cli: {stored} products stored, expected {rows}")
    size_mb = csv_path.stat().st_size / 1e6
    return Figure(
        scratch.backend,
        rows,
        "cli",
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,
        note=f"{size_mb:.0f} MB CSV; whole command incl. start-up",
    )


_BASELINE_COLUMNS = (
    "workspace_id, source_platform, source_id, source_url, title, description, category, brand,"
    " price, currency, images, attributes, status, content_hash, created_at, updated_at"
)
_BASELINE_UPDATED = (
    "source_url",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "images",
    "attributes",
    "content_hash",
    "updated_at",
)
BASELINE_SQL = (
    f"INSERT INTO products ({_BASELINE_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (workspace_id, source_platform, source_id) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _BASELINE_UPDATED)
    + " WHERE products.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
)


def _baseline_params(product: Product, now: datetime) -> tuple[Any, ...]:
    content = json.dumps(
        [product.source_url, product.title, product.description, product.price], sort_keys=True
    )
    return (
        1,
        "allegro",
        product.source_id,
        product.source_url,
        product.title,
        product.description,
        product.category,
        product.brand,
        Decimal(product.price),
        "PLN",
        Jsonb(list(product.images)),
        Jsonb(product.attributes()),
        "imported",
        hashlib.sha256(content.encode()).hexdigest(),
        now,
        now,
    )


def measure_baseline(scratch: Scratch, rows: int) -> Figure:
    seconds = 0.0
    with psycopg.connect(scratch.url) as conn, conn.cursor() as cur:
        products = synthetic_products(rows)
        while True:
            now = datetime.now(UTC)
            chunk = [_baseline_params(p, now) for p in itertools.islice(products, BASELINE_CHUNK)]
            if not chunk:
                break
            started = time.perf_counter()
            cur.executemany(BASELINE_SQL, chunk)
            conn.commit()
            seconds += time.perf_counter() - started
    stored = scratch.count_products()
    if stored != rows:
        raise RuntimeError(f"psycopg: {stored} products stored, expected {rows}")
    return Figure(
        scratch.backend,
        rows,
        "psycopg",
        seconds=seconds,
        note=f"bare executemany upsert, {BASELINE_CHUNK} rows per commit; DB time only",
    )


# --- driver ------------------------------------------------------------------------------------


def _csv_list(text: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    items = [part.strip().lower() for part in text.split(",") if part.strip()]
    if allowed:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(allowed)}")
    return items


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in _csv_list(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--rows takes numbers like 10000,100000: {exc}") from exc
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("--rows needs positive numbers")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--rows", type=_sizes, default=[10_000, 100_000], help="sizes, e.g. 10000,100000"
    )
    parser.add_argument("--backends", type=lambda t: _csv_list(t, BACKENDS), default=list(BACKENDS))
    parser.add_argument("--modes", type=lambda t: _csv_list(t, MODES), default=list(MODES))
    parser.add_argument("--concurrency", type=int, default=1, help="API connections (1 or 2)")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="API items per request")
    parser.add_argument(
        "--api-max-rows", type=int, default=100_000, help="larger sizes skip the api mode"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the bare psycopg upsert on PostgreSQL"
    )
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where temporary files go (default: $TMPDIR)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= 16:
        parser.error("--concurrency must be between 1 and 16")
    if not 1 <= args.batch_size <= 10_000:
        parser.error("--batch-size must be between 1 and 10000 (the server's item cap)")
    return args


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(figures: list[Figure]) -> None:
    baselines = {(f.backend, f.rows): f.rate for f in figures if f.mode == "psycopg"}
    print()
    print("| backend | rows | mode | seconds | rows/s | peak RSS MB | vs psycopg | note |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for f in figures:
        base = baselines.get((f.backend, f.rows))
        ratio = f.rate / base if f.rate and base and f.mode != "psycopg" else None
        print(
            f"| {f.backend} | {f.rows:,} | {f.mode} | {_fmt(f.seconds, '.2f')} | "
            f"{_fmt(f.rate, ',.0f')} | {_fmt(f.peak_rss_mb, '.0f')} | "
            f"{'-' if ratio is None else f'{ratio:.0%}'} | {f.note} |"
        )


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so servers are stopped and databases dropped.
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="lf-import-bench-", dir=args.workdir))
    uses_pg = "postgresql" in args.backends
    print("ListingFlow import throughput")
    for line in machine_lines(args.pg_admin_url if uses_pg else None):
        print("  " + line)
    if "cli" in args.modes:
        print(f"  CLI start-up (`listingflow --help`, best of 3): {cli_startup_seconds():.2f} s")
    figures: list[Figure] = []
    failed = False
    try:
        for rows in args.rows:
            csv_path = workdir / f"products-{rows}.csv"
            if "cli" in args.modes:
                print(f"writing a {rows:,}-row CSV ...", file=sys.stderr)
                write_csv(csv_path, rows)
            for backend in args.backends:
                steps: list[str] = []
                if "api" in args.modes and rows <= args.api_max_rows:
                    steps.append("api")
                elif "api" in args.modes:
                    figures.append(
                        Figure(backend, rows, "api", note=f"skipped: > {args.api_max_rows:,} rows")
                    )
                if "cli" in args.modes:
                    steps.append("cli")
                if backend == "postgresql" and not args.no_baseline:
                    steps.append("psycopg")
                for mode in steps:
                    print(f"{backend} {rows:,} rows: {mode} ...", file=sys.stderr)
                    try:
                        with Scratch(backend, workdir, args.pg_admin_url) as scratch:
                            if mode == "api":
                                figure = measure_api(
                                    scratch,
                                    rows,
                                    concurrency=args.concurrency,
                                    workers=args.server_workers,
                                    batch_size=args.batch_size,
                                )
                            elif mode == "cli":
                                figure = measure_cli(scratch, rows, csv_path)
                            else:
                                figure = measure_baseline(scratch, rows)
                    except (RuntimeError, OSError, psycopg.Error, httpx.HTTPError) as exc:
                        failed = True
                        print(f"  {backend} {rows:,} {mode} failed: {exc}", file=sys.stderr)
                        reason = " ".join(str(exc).split())[:120]
                        figure = Figure(backend, rows, mode, note=f"FAILED: {reason}")
                    figures.append(figure)
                    if figure.rate:
                        print(f"  {figure.rate:,.0f} rows/s", file=sys.stderr)
            csv_path.unlink(missing_ok=True)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        failed = True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(figures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
