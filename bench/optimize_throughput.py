"""Offline optimizer throughput: listings per second on one core, and how many pass validation.

Generates N varied products deterministically (--seed): Polish, German and English titles built
from product types, brands, models and attributes, with the noise real feeds carry (SHOUTING,
"HIT CENOWY!!!", "WYSYŁKA 24H", "NEU & OVP", emojis, keyword strings), plain or HTML descriptions
with seller sentences and <script> tags, 0-12 images, and EANs that are valid, wrong or missing.
Products are built before the clock starts. Then, pinned to one CPU where the OS allows it and
after a short warm-up, each product is optimized for each marketplace with
`rules.optimizer.optimize_offline` (the timed part), and every result is validated afterwards
(timed separately). Prints listings/s per marketplace and overall, the share of listings with no
validation error at all, and the share whose only errors are data the source lacks (no EAN,
brand or images: validation.MISSING_DATA_CODES), which no rewrite can fix; and, for the products
whose source carries complete required data (brand, a valid EAN, a description, an image), the
share that passes with no error (the target: all of them).

    .venv/bin/python bench/optimize_throughput.py [--products 10000] [--seed 7]
        [--marketplaces amazon,ebay,allegro,kaufland]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from decimal import Decimal

from listingflow.rules.optimizer import optimize_offline
from listingflow.rules.types import Listing, Severity, SourceProduct
from listingflow.rules.validation import MISSING_DATA_CODES, validate

TARGET_PER_SECOND = 2000
TYPES = {
    "pl": [
        ("Słuchawki bezprzewodowe", "Elektronika > Audio > Słuchawki"),
        ("Czajnik elektryczny", "Dom i ogród > Kuchnia > Czajniki"),
        ("Buty damskie sneakersy", "Moda > Obuwie damskie > Sneakersy"),
        ("Mata do jogi", "Sport i turystyka > Fitness > Maty"),
        ("Zestaw garnków", "Dom i ogród > Kuchnia > Garnki"),
    ],
    "de": [
        ("Kabellose Kopfhörer", "Elektronik > Audio > Kopfhörer"),
        ("Wasserkocher", "Küche > Wasserkocher"),
        ("Damen Sneaker", "Schuhe > Damen > Sneaker"),
        ("Yogamatte rutschfest", "Sport > Fitness > Yogamatten"),
        ("Topfset Edelstahl", "Küche > Töpfe"),
    ],
    "en": [
        ("Wireless Headphones", "Electronics > Audio > Headphones"),
        ("Electric Kettle", "Home & Kitchen > Kettles"),
        ("Women's Sneakers", "Clothing > Shoes > Sneakers"),
        ("Non-Slip Yoga Mat", "Sports > Fitness > Yoga Mats"),
        ("Stainless Steel Cookware Set", "Home & Kitchen > Cookware"),
    ],
}
BRANDS = ["Sony", "Bosch", "adidas", "Manduka", "Tefal", "Xiaomi", "De'Longhi", "JBL", "Philips"]
MODELS = ["WH-1000XM4", "TWK3A011", "Stan Smith", "PRO 6 mm", "Duetto+ 10", "Mi Air 2", "S7887/55"]
COLORS = {
    "pl": ["czarny", "biały", "szary"],
    "de": ["schwarz", "weiß", "grau"],
    "en": ["black", "white", "grey"],
}
MATERIALS = {"pl": ["stal", "bawełna"], "de": ["Edelstahl", "Baumwolle"], "en": ["steel", "cotton"]}
NOISE = {
    "pl": ["HIT CENOWY!!!", "WYSYŁKA 24H", "NOWOŚĆ 2024", "GRATIS", "SUPER PROMOCJA!!!", "FV23%"],
    "de": ["NEU & OVP", "TOP PREIS", "kostenloser Versand", "BLITZANGEBOT!!", "SOFORT LIEFERBAR"],
    "en": ["BEST PRICE!!", "FREE SHIPPING!!!", "**NEW**", "L@@K", "LIMITED OFFER -"],
}
FACTS = {
    "pl": ["Moc 2400 W.", "Pojemność 1,7 l.", "Do 30 godzin pracy.", "Wkładka OrthoLite."],
    "de": ["Leistung 2400 W.", "Bis zu 30 Stunden Akkulaufzeit.", "Rutschfeste Oberfläche."],
    "en": ["Up to 30 hours of battery.", "2400 W heating element.", "Non-slip surface."],
}
SELLER = {
    "pl": ["Wysyłka w 24h z magazynu w Polsce.", "Wystawiamy faktury VAT 23%."],
    "de": ["Versand innerhalb von 24 Stunden.", "2 Jahre Herstellergarantie."],
    "en": ["Ships within 1 business day.", "30-day hassle-free returns."],
}
EMOJIS = ["🔥", "⭐", "✅", "👍"]


def _ean(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    body = [rng.randrange(10) for _ in range(12)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    if roll < 0.15:
        check = (check + 1) % 10  # a wrong check digit, as feeds sometimes carry
    return "".join(map(str, body)) + str(check)


def _description(rng: random.Random, language: str, title: str) -> str | None:
    if rng.random() < 0.05:
        return None
    facts = rng.sample(FACTS[language], k=rng.randint(1, len(FACTS[language])))
    seller = rng.sample(SELLER[language], k=rng.randint(0, 2))
    if rng.random() < 0.4:
        items = "".join(f"<li>{fact.rstrip('.')}</li>" for fact in facts)
        script = "<script>track()</script>" if rng.random() < 0.2 else ""
        return f"<h2>{title}</h2><ul>{items}</ul><p>{' '.join(seller)}</p>{script}"
    return " ".join([f"{title}.", *facts, *seller])


def make_product(rng: random.Random) -> SourceProduct:
    language = rng.choice(list(TYPES))
    kind, category = rng.choice(TYPES[language])
    brand = rng.choice(BRANDS)
    color = rng.choice(COLORS[language])
    core = f"{kind} {brand} {rng.choice(MODELS)} {color}"
    if language != "pl" or rng.random() < 0.3:
        core = f"{brand} {rng.choice(MODELS)} {kind}, {color}"
    title = core
    if rng.random() < 0.5:
        title = f"{rng.choice(NOISE[language])} {title} {rng.choice(NOISE[language])}"
    if rng.random() < 0.3:
        title = title.upper()
    if rng.random() < 0.1:
        title += f" {rng.choice(EMOJIS)}"
    if rng.random() < 0.05:
        title += " - " + ", ".join(rng.choice(FACTS["en"]).split()[:6])  # keyword string
    attributes: dict[str, object] = {"color": color, "material": rng.choice(MATERIALS[language])}
    if rng.random() < 0.5:
        attributes["size"] = rng.choice(["36", "XL", "28 cm", "1,7 l"])
    ean = _ean(rng)
    if ean:
        attributes["ean"] = ean
    images = tuple(
        f"https://img.example/{rng.randrange(10**9)}.jpg" for _ in range(rng.randint(0, 12))
    )
    return SourceProduct(
        title=title,
        description=_description(rng, language, core),
        category=category,
        brand=brand if rng.random() > 0.03 else None,
        price=Decimal(rng.randrange(500, 200_000)) / 100,
        currency="PLN" if language == "pl" else "EUR",
        images=images,
        attributes=attributes,
    )


def _valid_gtin(code: object) -> bool:
    if not isinstance(code, str) or not code.isdigit() or len(code) != 13:
        return False
    digits = [int(c) for c in code]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return check == digits[12]


def has_complete_data(product: SourceProduct) -> bool:
    """Everything the strictest rulebook requires is in the source: brand, a valid EAN, a
    description and an image. Listings of such products must pass validation outright."""
    return bool(
        product.brand
        and product.description
        and product.images
        and _valid_gtin(product.attributes.get("ean"))
    )


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--marketplaces", default="amazon,ebay,allegro,kaufland")
    args = parser.parse_args()
    marketplaces = [m.strip() for m in args.marketplaces.split(",") if m.strip()]

    rng = random.Random(args.seed)
    products = [make_product(rng) for _ in range(args.products)]
    complete = [has_complete_data(p) for p in products]
    affinity = pin_one_core()
    print(
        f"offline optimizer: {len(products):,} products x {len(marketplaces)} marketplaces, "
        f"Python {platform.python_version()}, {affinity}"
    )
    for product in products[:200]:  # warm-up: caches and code paths
        for marketplace in marketplaces:
            optimize_offline(product, marketplace)

    total_listings, total_seconds = 0, 0.0
    print(
        f"{'marketplace':<10} {'listings/s':>11} {'no errors':>10} {'only missing data':>18} "
        f"{'complete data: no errors':>25} {'validate/s':>11}"
    )
    print(f"({sum(complete):,} of {len(products):,} products carry complete required data)")
    for marketplace in marketplaces:
        start = time.perf_counter()
        listings: list[Listing] = [optimize_offline(p, marketplace) for p in products]
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        issue_lists = [validate(listing, marketplace) for listing in listings]
        validate_seconds = time.perf_counter() - start
        error_codes = [
            {i.code for i in issues if i.severity is Severity.ERROR} for issues in issue_lists
        ]
        clean = sum(1 for codes in error_codes if not codes)
        explained = sum(1 for codes in error_codes if codes <= MISSING_DATA_CODES)
        complete_clean = sum(
            1 for codes, whole in zip(error_codes, complete, strict=True) if whole and not codes
        )
        total_listings += len(listings)
        total_seconds += seconds
        print(
            f"{marketplace:<10} {len(listings) / seconds:>11,.0f} "
            f"{100 * clean / len(listings):>9.1f}% {100 * explained / len(listings):>17.1f}% "
            f"{100 * complete_clean / max(1, sum(complete)):>24.1f}% "
            f"{len(listings) / validate_seconds:>11,.0f}"
        )
    overall = total_listings / total_seconds
    verdict = "meets" if overall >= TARGET_PER_SECOND else "MISSES"
    print(
        f"overall: {overall:,.0f} listings/s on one core "
        f"({verdict} the {TARGET_PER_SECOND:,}/s target)"
    )


if __name__ == "__main__":
    main()
