"""The product catalog: the Shopify variants and products the sandbox knows about.

Intents point at variants; ``products_in_demand`` describes each variant's product from here, and
the public create-intent endpoint only accepts variants listed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One Shopify product variant, with the product it belongs to."""

    shopify_variant_id: int
    shopify_product_id: int
    shopify_inventory_item_id: int | None
    product_variant_id: str
    title: str
    sku: str | None
    product_title: str
    vendor: str


class Catalog:
    """Variants by id, and the variants of each product in insertion order."""

    def __init__(self) -> None:
        self._variants: dict[int, Variant] = {}
        self._by_product: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self._variants)

    def __iter__(self) -> Iterator[Variant]:
        return iter(self._variants.values())

    def add(self, variant: Variant) -> None:
        """Register ``variant`` (replacing a variant with the same id)."""
        old = self._variants.get(variant.shopify_variant_id)
        if old is not None:
            self._by_product[old.shopify_product_id].remove(old.shopify_variant_id)
        self._variants[variant.shopify_variant_id] = variant
        self._by_product.setdefault(variant.shopify_product_id, []).append(variant.shopify_variant_id)

    def get(self, shopify_variant_id: int) -> Variant | None:
        """The variant with this Shopify id, if known."""
        return self._variants.get(shopify_variant_id)

    def first(self) -> Variant | None:
        """The first variant registered, if any."""
        return next(iter(self._variants.values()), None)

    def ensure(self, shopify_variant_id: int, shopify_product_id: int) -> Variant:
        """Return the variant, registering a placeholder for an unknown one (e.g. a transfer target).

        Raises ``ValueError`` when the variant is known under another product.
        """
        variant = self._variants.get(shopify_variant_id)
        if variant is not None:
            if variant.shopify_product_id != shopify_product_id:
                raise ValueError(f"variant {shopify_variant_id} belongs to product {variant.shopify_product_id}")
            return variant
        siblings = self.variants_of(shopify_product_id)
        product_title = siblings[0].product_title if siblings else f"Product {shopify_product_id}"
        vendor = siblings[0].vendor if siblings else "Sandbox Vendor"
        placeholder = Variant(
            shopify_variant_id=shopify_variant_id,
            shopify_product_id=shopify_product_id,
            shopify_inventory_item_id=None,
            product_variant_id=f"pv-{shopify_variant_id}",
            title=f"Variant {shopify_variant_id}",
            sku=None,
            product_title=product_title,
            vendor=vendor,
        )
        self.add(placeholder)
        return placeholder

    def variants_of(self, shopify_product_id: int) -> list[Variant]:
        """The variants of one product, in insertion order."""
        return [self._variants[vid] for vid in self._by_product.get(shopify_product_id, [])]

    def product_data(self, shopify_product_id: int) -> dict[str, Any]:
        """The ``product_data`` object of a ``products_in_demand`` item."""
        variants = self.variants_of(shopify_product_id)
        return {
            "id": shopify_product_id,
            "title": variants[0].product_title if variants else f"Product {shopify_product_id}",
            "vendor": variants[0].vendor if variants else "Sandbox Vendor",
            "variants": [{"id": v.shopify_variant_id, "title": v.title, "sku": v.sku} for v in variants],
        }
