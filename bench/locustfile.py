"""Load test of a ListingFlow deployment with Locust (`pip install -e '.[load]'`).

Realistic flows of a seller's session, weighted as a dashboard is used: dashboard stats most
often, then the product list (first pages and a cursor walk), a product page, now and then a
batch import of a few products, and an optimize job started on some of them (the job's
progress is then read, as the web page polls it).

    LISTINGFLOW_API_KEY=lf_... locust -f bench/locustfile.py --host https://listingflow.example.com
    # headless, 200 users arriving 20 per second, 5 minutes:
    LISTINGFLOW_API_KEY=lf_... locust -f bench/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 200 -r 20 -t 5m --csv var/locust

Every request is named by its route template, so the statistics group `/api/products/{id}` as
one line. Imports write products with source ids `locust-<random>`: point it at a deployment
whose data may grow, or a staging copy. Set LISTINGFLOW_LOCUST_MARKETPLACE (default amazon) for
the optimize jobs and LISTINGFLOW_LOCUST_WRITE_WEIGHT=0 for a read-only run.
"""

from __future__ import annotations

import os
import random
import secrets
from typing import Any

from locust import HttpUser, between, task

API_KEY = os.environ.get("LISTINGFLOW_API_KEY", "")
MARKETPLACE = os.environ.get("LISTINGFLOW_LOCUST_MARKETPLACE", "amazon")
WRITE_WEIGHT = int(os.environ.get("LISTINGFLOW_LOCUST_WRITE_WEIGHT", "1"))

_TITLES = (
    "Słuchawki bezprzewodowe Sony WH-1000XM5 czarne",
    "Czajnik elektryczny Bosch TWK 1,7 l stal",
    "Buty sportowe Nike Air Zoom Pegasus 40 rozmiar 42",
    "Klocki LEGO Technic 42115 Lamborghini",
)


def _product() -> dict[str, Any]:
    n = secrets.token_hex(6)
    return {
        "source_platform": "allegro",
        "source_id": f"locust-{n}",
        "title": f"{random.choice(_TITLES)} {n[:4].upper()}",
        "description": "Produkt fabrycznie nowy, gwarancja 24 miesiące, wysyłka w 24h.",
        "category": "Elektronika > Audio > Słuchawki",
        "brand": "Sony",
        "price": round(random.uniform(20, 2000), 2),
        "currency": "PLN",
        "images": [f"https://img.example.com/{n}/1.jpg"],
        "attributes": {"color": "czarny", "ean": "4548736132610"},
    }


class Seller(HttpUser):
    """One person with the dashboard open: reads most of the time, writes now and then."""

    wait_time = between(1, 5)

    def on_start(self) -> None:
        if not API_KEY:
            raise RuntimeError("set LISTINGFLOW_API_KEY (create one: listingflow apikey create)")
        self.client.headers["X-API-Key"] = API_KEY
        self.product_ids: list[int] = []
        self.etags: dict[str, str] = {}

    def _get(self, path: str, name: str, **params: Any) -> Any:
        """A GET that revalidates with the ETag it saw last, as a browser does."""
        headers = {"If-None-Match": self.etags[name]} if name in self.etags else {}
        with self.client.get(
            path, params=params, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code == 304:
                response.success()
                return None
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            if "etag" in response.headers:
                self.etags[name] = response.headers["etag"]
            return response.json()

    @task(10)
    def dashboard_stats(self) -> None:
        self._get("/api/products/stats/summary", "/api/products/stats/summary")

    @task(6)
    def product_list(self) -> None:
        page = self._get("/api/products", "/api/products", page_size=20)
        if page:
            self.product_ids = [item["id"] for item in page["items"]] or self.product_ids
            if page.get("next_cursor") and random.random() < 0.3:
                self._get(
                    "/api/products",
                    "/api/products?cursor",
                    page_size=20,
                    cursor=page["next_cursor"],
                )

    @task(4)
    def product_page(self) -> None:
        if self.product_ids:
            product_id = random.choice(self.product_ids)
            self._get(f"/api/products/{product_id}", "/api/products/{id}")

    @task(max(WRITE_WEIGHT, 0))
    def batch_import(self) -> None:
        items = [_product() for _ in range(random.randint(5, 25))]
        with self.client.post(
            "/api/import/batch", json=items, name="/api/import/batch", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            ids = [r["product_id"] for r in response.json()["results"] if r.get("product_id")]
            self.product_ids = (ids + self.product_ids)[:100]

    @task(max(WRITE_WEIGHT, 0))
    def start_optimize_job(self) -> None:
        if not self.product_ids:
            return
        ids = random.sample(self.product_ids, min(5, len(self.product_ids)))
        with self.client.post(
            "/api/ai/batch-optimize",
            json={"product_ids": ids, "target_marketplace": MARKETPLACE},
            name="/api/ai/batch-optimize",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            job_id = response.json().get("job_id")
        if job_id:
            self.client.get(f"/api/jobs/{job_id}", name="/api/jobs/{id}")
