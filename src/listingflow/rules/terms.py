"""Word lists the rules share: banned and weak terms per language, stopwords, field labels.

Terms are written as sellers type them; matching folds case and Polish/German diacritics
(see text.fold), so "WYPRZEDAŻ", "wyprzedaz" and "Wyprzedaż" are one term. Lists cover en, de
and pl, and every list is checked whatever the listing's language, because mixed-language
junk ("HIT", "SALE" in Polish titles) is common.
"""

from __future__ import annotations

from enum import StrEnum


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


class TermKind(StrEnum):
    PROMOTIONAL = "promotional"  # price, deal and shipping advertising
    SUBJECTIVE = "subjective"  # claims nobody can verify: best, perfect, najlepszy
    TIME_BOUND = "time_bound"  # new, latest, nowość: stale the day after publishing
    SELLER_INFO = "seller_info"  # delivery, invoices, warranty, returns: belong in their own fields


PROMOTIONAL: dict[str, tuple[str, ...]] = {
    "en": (
        "sale", "on sale", "for sale", "free shipping", "free delivery", "fast shipping",
        "discount", "discounted", "cheap", "cheapest", "lowest price", "best price", "low price",
        "great price", "price drop", "deal", "deals", "hot deal", "bestseller", "best seller",
        "best-seller", "best selling", "top seller", "clearance", "bargain", "promo", "promotion",
        "special offer", "limited offer", "limited time", "buy now", "hit", "mega hit",
        "quality guaranteed", "satisfaction guaranteed", "100% quality guaranteed", "l@@k",
        "wow",
    ),
    "de": (
        "angebot", "angebote", "sonderangebot", "top angebot", "günstig", "günstiger", "billig",
        "billigste", "preiswert", "schnäppchen", "rabatt", "reduziert", "aktion", "top preis",
        "bestpreis", "tiefpreis", "kostenloser versand", "versandkostenfrei", "gratis versand",
        "ausverkauf", "restposten", "sale", "bestseller", "hit", "preishit", "jetzt kaufen",
        "blitzangebot", "knaller", "l@@k",
    ),
    "pl": (
        "promocja", "promocji", "promocyjna", "promocyjny", "super promocja", "mega promocja",
        "okazja", "okazji", "super okazja", "mega okazja", "okazyjna cena", "tanio", "tani",
        "tania", "tanie", "najtaniej", "najtańszy", "najtańsza", "najtańsze", "gratis", "gratisy",
        "wyprzedaż", "wyprzedaży", "darmowa dostawa", "darmowa wysyłka", "wysyłka gratis",
        "dostawa gratis", "rabat", "hit", "hit cenowy", "mega hit", "super hit", "super cena",
        "mega cena", "bestseller", "polecam", "polecamy", "kup teraz", "oryginał",
    ),
}  # fmt: skip

SUBJECTIVE: dict[str, tuple[str, ...]] = {
    "en": (
        "best", "the best", "perfect", "amazing", "awesome", "greatest", "incredible",
        "fantastic", "top quality", "high quality", "highest quality", "premium quality",
        "number one", "#1", "must have", "must-have", "perfect gift", "gift idea",
        "100% genuine", "100% original", "100% authentic",
    ),
    "de": (
        "beste", "bester", "bestes", "besten", "perfekt", "perfekte", "top qualität",
        "spitzenqualität", "hochwertigste", "nummer 1", "unschlagbar", "geschenk für",
        "geschenkidee", "perfektes geschenk", "100% original",
    ),
    "pl": (
        "najlepszy", "najlepsza", "najlepsze", "najlepszej", "najlepszych", "najlepszą",
        "najlepsza jakość", "najwyższa jakość", "top jakość", "rewelacyjny", "rewelacja",
        "idealny prezent", "pomysł na prezent", "numer 1", "100% oryginalny", "100% oryginał",
    ),
}  # fmt: skip

TIME_BOUND: dict[str, tuple[str, ...]] = {
    "en": ("new", "brand new", "all new", "newest", "latest", "new arrival", "just arrived"),
    "de": ("neu", "neue", "neuer", "neues", "neuheit", "brandneu", "neuware", "ovp", "neu & ovp"),
    "pl": (
        "nowy", "nowa", "nowe", "nowość", "nowosc", "nowości", "fabrycznie nowy",
        "fabrycznie nowa", "fabrycznie nowe", "nieużywany", "nieużywana", "nieużywane",
    ),
}  # fmt: skip

SELLER_INFO: dict[str, tuple[str, ...]] = {
    "en": (
        "shipping", "ships", "shipped", "delivery", "dispatch", "dispatched", "fast dispatch",
        "warranty",
        "returns", "refund", "invoice", "vat", "distributor", "hassle-free", "in stock",
        "contact us", "our store", "our shop",
    ),
    "de": (
        "versand", "versandfertig", "lieferung", "lieferzeit", "rechnung", "mwst", "garantie",
        "sofort lieferbar", "lieferbar",
        "herstellergarantie", "rückgabe", "rücksendung", "widerruf", "originalverpackt",
        "auf lager", "händler",
    ),
    "pl": (
        "wysyłka", "wysyłki", "wysyłką", "wysyłkę", "wysyłamy", "dostawa", "dostawy",
        "faktura", "faktury", "fakturą", "fv", "fv23", "vat", "gwarancja", "gwarancji",
        "gwarancją", "zwrot", "zwroty", "zwrotu", "paczkomat", "paczkomaty", "kurier",
        "kuriera", "odbiór osobisty", "zapraszamy", "sprzedajemy", "wystawiamy", "dystrybucja",
        "dystrybucji", "magazynu", "oryginalnie zapakowany", "oryginalnie zapakowana",
        "fv23", "fv23%", "naszej oferty", "innymi ofertami",
    ),
}  # fmt: skip

TERM_LISTS: dict[TermKind, dict[str, tuple[str, ...]]] = {
    TermKind.PROMOTIONAL: PROMOTIONAL,
    TermKind.SUBJECTIVE: SUBJECTIVE,
    TermKind.TIME_BOUND: TIME_BOUND,
    TermKind.SELLER_INFO: SELLER_INFO,
}

# Words that may follow a removed seller-info or time-bound term and mean nothing alone:
# "WYSYŁKA 24H", "GWARANCJA 24 MIESIĄCE", "NOWOŚĆ 2024".
TRAILING_JUNK: frozenset[str] = _wordset(
    """h godz godzin godziny dni dnia miesiące miesięcy miesiac lat lata rok roku pl
    stunden std tage tagen monate jahre jahr hours hrs days months years year"""
)

# Prepositions, articles and conjunctions: exempt from Amazon's repetition rule, never keywords.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        """a an the and or but nor for with without in on at to of by from as into onto over
        under up per vs via x"""
    ),
    "de": _wordset(
        """der die das den dem des ein eine einen einem einer und oder aber mit ohne für in im
        an am auf aus bei zu zum zur von vom nach über unter bis"""
    ),
    "pl": _wordset(
        """a i oraz lub albo ale ani czy w we z ze na do dla od po pod przy za o bez nad u
        przez"""
    ),
}
ALL_STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS.values())

# Strong signals for the language guess; shared words ("in", "a", "die" in English) are left
# out so a guess needs words only one language uses.
LANGUAGE_MARKERS: dict[str, frozenset[str]] = {
    "en": _wordset("the and with for of to from by this that is are your our new set up"),
    "de": _wordset(
        """der die das und mit für ist ein eine einen von zu zum zur im auf aus bei nicht
        sehr oder den dem des"""
    ),
    "pl": _wordset(
        """i w z ze na do dla od jest się oraz lub po przy bez nie to tym który która
        które"""
    ),
}
LANGUAGE_LETTERS: dict[str, frozenset[str]] = {
    "pl": frozenset("ąćęłńśźżĄĆĘŁŃŚŹŻ"),
    "de": frozenset("äöüßÄÖÜẞ"),
}
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "de": "German", "pl": "Polish", "fr": "French", "it": "Italian",
    "es": "Spanish", "nl": "Dutch", "sv": "Swedish", "cs": "Czech", "sk": "Slovak",
}  # fmt: skip

# Attribute keys and their labels. Labels are the only words the offline optimizer may write
# that the source did not contain ("Color: black"); LABEL_WORDS lists them for the checks.
ATTRIBUTE_SYNONYMS: dict[str, str] = {
    "color": "color", "colour": "color", "kolor": "color", "farbe": "color",
    "size": "size", "rozmiar": "size", "größe": "size", "grosse": "size",
    "material": "material", "materiał": "material", "werkstoff": "material",
    "capacity": "capacity", "pojemność": "capacity", "kapazität": "capacity",
    "volume": "capacity", "inhalt": "capacity",
    "weight": "weight", "waga": "weight", "gewicht": "weight",
    "model": "model", "modell": "model",
    "pattern": "pattern", "wzór": "pattern", "muster": "pattern",
    "condition": "condition", "stan": "condition", "zustand": "condition",
}  # fmt: skip
LABELS: dict[str, dict[str, str]] = {
    "color": {"en": "Color", "de": "Farbe", "pl": "Kolor"},
    "size": {"en": "Size", "de": "Größe", "pl": "Rozmiar"},
    "material": {"en": "Material", "de": "Material", "pl": "Materiał"},
    "capacity": {"en": "Capacity", "de": "Kapazität", "pl": "Pojemność"},
    "weight": {"en": "Weight", "de": "Gewicht", "pl": "Waga"},
    "model": {"en": "Model", "de": "Modell", "pl": "Model"},
    "pattern": {"en": "Pattern", "de": "Muster", "pl": "Wzór"},
    "condition": {"en": "Condition", "de": "Zustand", "pl": "Stan"},
}
LABEL_WORDS: frozenset[str] = frozenset(
    label.casefold() for labels in LABELS.values() for label in labels.values()
)

# Identifier and bookkeeping attributes: facts for the marketplace, not for buyers to read.
GTIN_KEYS: tuple[str, ...] = ("ean", "gtin", "upc", "isbn", "ean13", "gtin13", "gtin14", "gtin12")
GTIN_EXEMPTION_KEYS: tuple[str, ...] = ("gtin_exemption", "gtin_exempt", "exemption")
NON_DISPLAY_KEYS: frozenset[str] = frozenset(
    (*GTIN_KEYS, *GTIN_EXEMPTION_KEYS, "sku", "mpn", "asin", "id", "source_id", "brand",
     "manufacturer", "category", "category_id", "price", "currency", "images", "image",
     "url", "source_url", "bullets", "bullet_points", "keywords", "search_terms", "tags")
)  # fmt: skip

# Bullet placeholders Amazon removes (since its Aug 2024 bullet policy).
PLACEHOLDERS: frozenset[str] = frozenset({"n/a", "na", "tbd", "tba", "none", "null", "-", "?"})
