"""The import fast path must agree with ProductIn on every input it accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from listingflow.importing import fastpath
from listingflow.importing.schemas import ProductIn

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "  ", " x ", "Kubek\u00a0", "\u2003Tasse", "x\x1c", "Żółw 2,5 l"]),
)
urls = st.one_of(
    st.sampled_from(
        ["https://img.example.com/a.jpg", " http://x.pl/b.png ", "ftp://x/y", "https://", "nope"]
    ),
    st.text(max_size=20).map(lambda s: "https://example.com/" + s),
)
prices = st.one_of(
    st.integers(-5, 10**10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["19.99", "129,99", " 1 299,00 ", "0", "-1", "abc", "1e3", "0.00001", "NaN"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.booleans(),
    st.none(),
)
values: dict[str, st.SearchStrategy[Any]] = {
    "source_platform": st.one_of(st.none(), texts, st.sampled_from(["Allegro", "EBAY ", "a b"])),
    "source_id": st.one_of(texts, st.integers(-(10**12), 10**12), st.booleans(), st.none()),
    "source_url": st.one_of(st.none(), urls, texts),
    "title": st.one_of(texts, st.none(), st.integers()),
    "description": st.one_of(st.none(), texts),
    "category": st.one_of(st.none(), texts),
    "brand": st.one_of(st.none(), texts, st.integers()),
    "price": prices,
    "currency": st.one_of(st.none(), st.sampled_from(["PLN", "eur", " usd ", "XXX", "ZZZ", ""])),
    "images": st.one_of(
        st.none(), st.lists(st.one_of(urls, st.integers()), max_size=3), urls, texts
    ),
    "attributes": st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.integers())),
        st.text(max_size=5),
    ),
}
products = st.fixed_dictionaries({}, optional=values)
# Mostly valid products with one odd value here and there: where the two paths must agree.
near_valid = st.fixed_dictionaries(
    {
        "source_id": st.one_of(st.integers(1, 10**9), st.text(min_size=1, max_size=12)),
        "title": st.text(min_size=1, max_size=60),
        "price": st.one_of(
            st.sampled_from(["19.99", "129,99", "5", " 7.5 ", "0.0001"]),
            st.integers(1, 10**6),
            st.floats(0.01, 1e6),
            st.decimals(min_value=0, max_value=10**6, places=4).map(str),
        ),
    },
    optional={k: v for k, v in values.items() if k not in ("source_id", "title", "price")},
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(products, near_valid))
def test_fast_path_agrees_with_the_model(data: dict[str, Any]) -> None:
    fast = fastpath.normalize(data)
    try:
        expected = ProductIn.model_validate(data).model_dump()
    except ValidationError:
        assert fast is None
        return
    if fast is not None:
        assert fast == expected


def test_fast_path_takes_the_ordinary_product() -> None:
    data = {
        "source_id": 123,
        "title": " Kubek ",
        "price": "29,99",
        "currency": "eur",
        "images": "https://a.example/1.jpg, https://a.example/1.jpg",
        "attributes": {"kolor": "biały"},
    }
    assert fastpath.normalize(data) == ProductIn.model_validate(data).model_dump()
    assert fastpath.normalize(data) is not None
