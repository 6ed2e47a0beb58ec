"""Shopify and WooCommerce product exports, read from the real files in shared/data."""

from __future__ import annotations

import io
from pathlib import Path

from listingflow.importing.schemas import ProductIn
from listingflow.integrations.sources.base import SourceRow
from listingflow.integrations.sources.csv import open_csv, read_csv
from listingflow.integrations.sources.mapping import detect_layout
from listingflow.integrations.sources.tabular import map_header


def _read(path: Path) -> list[SourceRow]:
    with path.open("rb") as fh:
        return list(read_csv(fh))


def _by_id(rows: list[SourceRow]) -> dict[str, SourceRow]:
    return {row.data["source_id"]: row for row in rows}


def test_shopify_template_merges_rows_into_three_products(shared_data: Path) -> None:
    rows = _read(shared_data / "shopify-product-template.csv")

    assert [row.data["source_id"] for row in rows] == [
        "example-shirt",
        "example-pants",
        "example-hat",
    ]
    assert [row.index for row in rows] == [2, 14, 18]
    assert [len(row.data["images"]) for row in rows] == [6, 4, 1]
    assert [row.data["price"] for row in rows] == ["25", "95", "17.99"]
    assert all(row.error is None for row in rows)
    assert {row.data["source_platform"] for row in rows} == {"shopify"}


def test_shopify_product_fields_come_from_the_first_row(shared_data: Path) -> None:
    shirt = _read(shared_data / "shopify-product-template.csv")[0].data

    assert shirt["title"] == "Example T-Shirt"
    assert shirt["brand"] == "Acme"
    assert shirt["category"] == "Apparel & Accessories > Clothing > Clothing Tops > T-Shirts"
    assert shirt["description"].startswith("<p>This t-shirt is as simple as it gets.")
    assert shirt["images"][0] == "https://burst.shopifycdn.com/photos/tshirts.jpg?width=1500"
    attributes = shirt["attributes"]
    assert attributes["tags"] == ["Made to Order", "Shirt Tag"]
    assert attributes["status"] == "active"
    assert attributes["published"] is True
    assert attributes["sku"] == "SRT_COT_111"
    assert attributes["options"] == {
        "color": ["Green", "Blue", "Gray", "Purple"],
        "size": ["S", "M", "L"],
    }
    assert len(attributes["variants"]) == 12
    assert attributes["variants"][4]["options"] == {"color": "Blue", "size": "M"}


def test_shopify_statuses_and_single_variant_products(shared_data: Path) -> None:
    _, pants, hat = _read(shared_data / "shopify-product-template.csv")

    assert pants.data["attributes"]["status"] == "draft"
    assert pants.data["attributes"]["compare_at_price"] == "64.95"
    assert len(pants.data["attributes"]["variants"]) == 3  # the 4th row only adds an image
    assert hat.data["attributes"]["status"] == "archived"
    assert "variants" not in hat.data["attributes"]
    assert "options" not in hat.data["attributes"]  # "Title: Default Title" means no options


def test_shopify_mangled_barcodes_keep_their_text_and_are_flagged(shared_data: Path) -> None:
    shirt = _read(shared_data / "shopify-product-template.csv")[0].data["attributes"]

    assert shirt["barcode"] == "3.65275E+11"
    assert shirt["barcode_unreliable"] is True
    assert shirt["variants"][1]["barcode"] == "4.6347E+11"
    assert shirt["variants"][1]["barcode_unreliable"] is True
    assert shirt["mpn_unreliable"] is True


def test_shopify_products_validate(shared_data: Path) -> None:
    for row in _read(shared_data / "shopify-product-template.csv"):
        product = ProductIn.model_validate(row.data)
        assert product.source_platform == "shopify"


def test_woocommerce_emits_sellable_products_only(shared_data: Path) -> None:
    rows = _read(shared_data / "woocommerce-sample-products.csv")
    ids = [row.data["source_id"] for row in rows]

    assert len(rows) == 21
    assert "cc-tee" not in ids  # variable parent
    assert "cc-hoodie" not in ids  # variable parent
    assert "cc-logo-collection" not in ids  # grouped
    assert "cp-donation" in ids  # external
    assert {row.data["source_platform"] for row in rows} == {"woocommerce"}
    assert all(row.error is None for row in rows)


def test_woocommerce_variations_inherit_from_their_parent(shared_data: Path) -> None:
    rows = _by_id(_read(shared_data / "woocommerce-sample-products.csv"))

    blue_tee = rows["cc-t-shirt-blue"].data
    assert blue_tee["title"] == "T-Shirt - Blue"
    assert blue_tee["category"] == "Clothing > Tshirts"  # own cell is empty
    assert blue_tee["price"] == "25"
    assert blue_tee["attributes"]["color"] == "Blue"
    assert blue_tee["attributes"]["parent"] == "cc-tee"
    red_hoodie = rows["cc-hoodie-red"].data
    assert red_hoodie["category"] == "Clothing > Hoodies"
    assert red_hoodie["attributes"] | {"color": "Red", "logo": "No"} == red_hoodie["attributes"]
    assert red_hoodie["images"] == [
        "https://classiccommerce.cc/wp-content/downloads/sample-data-images/hoodie-no-pocket-red.png"
    ]


def test_woocommerce_price_is_sale_price_when_set(shared_data: Path) -> None:
    rows = _by_id(_read(shared_data / "woocommerce-sample-products.csv"))

    assert rows["cc-beanie"].data["price"] == "18"
    assert rows["cc-beanie"].data["attributes"]["regular_price"] == "20"
    assert rows["cc-sunglasses"].data["price"] == "90"
    assert rows["cc-hoodie-red"].data["price"] == "42"


def test_woocommerce_attributes(shared_data: Path) -> None:
    rows = _by_id(_read(shared_data / "woocommerce-sample-products.csv"))

    cap = rows["cc-cap"].data["attributes"]
    assert cap["color"] == "Yellow"
    assert cap["featured"] is True
    assert cap["visibility"] == "visible"
    assert cap["in_stock"] is True
    assert cap["woocommerce_id"] == "747"
    assert "attribute_1_value_s" not in cap
    assert rows["cc-hoodie-with-pocket"].data["attributes"]["visibility"] == "hidden"
    donation = rows["cp-donation"].data["attributes"]
    assert donation["external_url"] == "https://www.classicpress.net/donate/"


def test_woocommerce_products_validate(shared_data: Path) -> None:
    for row in _read(shared_data / "woocommerce-sample-products.csv"):
        ProductIn.model_validate(row.data)


WOO_HEADER = (
    "ID,Type,SKU,Name,Description,Weight (kg),Length (cm),Sale price,Regular price,"
    "Categories,Images,Parent,Attribute 1 name,Attribute 1 value(s),"
    "Attribute 2 name,Attribute 2 value(s)\n"
)


def test_woocommerce_variation_before_parent_waits_for_it() -> None:
    body = WOO_HEADER + (
        "11,variation,,,,0.4,,,30,,,id:10,Size,M,Material,\n"
        '10,variable,mug,Mug,A mug,,,,,"Kitchen, Kitchen > Mugs",'
        '"https://x.example/a.jpg, https://x.example/b.jpg",,Size,"S, M",Material,Stoneware\n'
        "12,simple,plate,Plate,,1.25,30,,12,Kitchen,https://x.example/p.jpg,,,,,\n"
    )
    rows = list(read_csv(io.BytesIO(body.encode())))

    variation = next(row for row in rows if row.index == 2)
    assert variation.data["source_id"] == "11"  # no SKU: the id
    assert variation.data["title"] == "Mug - M"
    assert variation.data["description"] == "A mug"
    assert variation.data["category"] == "Kitchen > Mugs"
    assert variation.data["images"] == ["https://x.example/a.jpg", "https://x.example/b.jpg"]
    assert variation.data["attributes"]["material"] == "Stoneware"  # fixed parent attribute
    assert variation.data["attributes"]["size"] == "M"
    assert variation.data["attributes"]["weight_kg"] == "0.4"
    plate = next(row for row in rows if row.index == 4)
    assert plate.data["attributes"]["length_cm"] == "30"
    assert [row.index for row in rows] == [2, 4]


def test_woocommerce_variation_without_parent_is_emitted_as_is() -> None:
    body = WOO_HEADER + "11,variation,mug-m,Mug M,,,,,30,,,id:99,,,,\n"

    (row,) = read_csv(io.BytesIO(body.encode()))

    assert row.data["title"] == "Mug M"
    assert row.data["price"] == "30"


def test_layout_detection_and_preview(shared_data: Path) -> None:
    with (shared_data / "shopify-product-template.csv").open("rb") as fh:
        shopify = open_csv(fh)
        assert shopify.layout == "shopify"
        preview = dict(map_header(shopify.header).columns)
    assert preview["Handle"] == "source_id"
    assert preview["Image Src"] == "images"
    assert preview["Variant Price"] == "price"
    with (shared_data / "woocommerce-sample-products.csv").open("rb") as fh:
        woo = open_csv(fh)
        assert woo.layout == "woocommerce"
        woo_preview = map_header(woo.header)
    assert woo_preview.layout == "woocommerce"
    assert dict(woo_preview.columns)["Weight (kg)"] == "attributes.weight_kg"
    assert dict(woo_preview.columns)["SKU"] == "source_id"
    assert detect_layout(["sku", "nazwa", "cena"]) == "plain"
    assert detect_layout(["Handle", "Title"]) == "plain"  # a slug column alone is not Shopify
