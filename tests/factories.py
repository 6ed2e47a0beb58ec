"""Test data factories: realistic products with unique source ids."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def product_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    data: dict[str, Any] = {
        "source_platform": "allegro",
        "source_id": f"AL-{n:07d}",
        "source_url": f"https://allegro.pl/oferta/sluchawki-{n}",
        "title": f"Słuchawki bezprzewodowe Sony WH-1000XM{n % 5 + 1} czarne",
        "description": "Słuchawki nauszne z ANC, Bluetooth 5.3, do 30 godzin pracy.",
        "category": "Elektronika > Audio > Słuchawki",
        "brand": "Sony",
        "price": 1299.99,
        "currency": "PLN",
        "images": [f"https://img.example.com/{n}/1.jpg"],
        "attributes": {"color": "czarny", "connectivity": "Bluetooth 5.3"},
    }
    data.update(overrides)
    return data
