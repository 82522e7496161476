"""Deterministic fake data: the catalog, customers and intents a sandbox starts with.

Everything comes from one ``random.Random(seed)``, so the same options always give the same ids,
contacts and states. Contact data is obviously fake: e-mails at ``example.com`` and phone numbers
made of digits only, starting with ``1555``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date

from stoq_provider.sandbox.catalog import Catalog, Variant
from stoq_provider.sandbox.store import IntentRecord
from stoq_provider.sandbox.timeutil import iso_from_timestamp, midnight_utc_timestamp, today_utc

FIRST_VARIANT_ID = 40_000_000_000
FIRST_PRODUCT_ID = 8_000_000_000
FIRST_INVENTORY_ITEM_ID = 45_000_000_000
FIRST_CUSTOMER_ID = 7_000_000_000
MARKET_IDS: tuple[int, ...] = (2_000_001, 2_000_002)
VARIANTS_PER_PRODUCT = 2
HISTORY_SECONDS = 90 * 24 * 3600

# fmt: off
_FIRST_NAMES = (
    "Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Liam", "Maya",
    "Noor", "Oscar", "Priya", "Quinn", "Rosa", "Sami", "Tara"
)
_LAST_NAMES = (
    "Adler", "Baptiste", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov"
)
_ADJECTIVES = (
    "Alpine", "Breezy", "Cosy", "Daring", "Everyday", "Featherlight", "Golden", "Harbor", "Indigo", "Juniper",
    "Kinetic", "Lunar", "Meadow", "Nordic", "Oak", "Pebble"
)
_NOUNS = (
    "Sneaker", "Hoodie", "Backpack", "Mug", "Blanket", "Jacket", "Beanie", "Tote", "Lamp", "Scarf", "Bottle",
    "Notebook"
)
# fmt: on
_VENDORS = ("Sandbox Supply Co.", "Northwind Goods", "Example Outfitters", "Placeholder & Sons")
_OPTIONS = ("Small / Black", "Medium / Black", "Large / Sand", "One size / Olive", "Small / Sand", "Large / Olive")


@dataclass(frozen=True)
class SeedOptions:
    """What to generate. ``anchor`` is the day whose midnight (UTC) counts as "now" (default: today)."""

    seed: int = 0
    intents: int = 200
    variants: int = 5
    pending_only: bool = False
    anchor: date | None = None


@dataclass(frozen=True)
class Customer:
    """A fake shopper."""

    customer_id: str
    name: str
    email: str
    phone: str
    market_id: int
    accepts_marketing: bool


@dataclass(frozen=True)
class SeedResult:
    """A generated data set."""

    shop_id: str
    catalog: Catalog
    intents: list[IntentRecord]
    customers: int


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (so it is reproducible)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_variant(rng: random.Random, index: int) -> Variant:
    """The ``index``-th variant of the catalog (two variants per product)."""
    product_index = index // VARIANTS_PER_PRODUCT
    product_title = f"{_ADJECTIVES[product_index % len(_ADJECTIVES)]} {_NOUNS[product_index % len(_NOUNS)]}"
    return Variant(
        shopify_variant_id=FIRST_VARIANT_ID + index,
        shopify_product_id=FIRST_PRODUCT_ID + product_index,
        shopify_inventory_item_id=FIRST_INVENTORY_ITEM_ID + index,
        product_variant_id=seeded_uuid(rng),
        title=_OPTIONS[index % len(_OPTIONS)],
        sku=f"SBX-{product_index:04d}-{index % VARIANTS_PER_PRODUCT + 1}",
        product_title=product_title,
        vendor=rng.choice(_VENDORS),
    )


def make_customer(rng: random.Random, index: int) -> Customer:
    """The ``index``-th fake customer (contact data unique per index)."""
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return Customer(
        customer_id=str(FIRST_CUSTOMER_ID + index),
        name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}.{index}@example.com",
        phone=f"1555{index:07d}",
        market_id=MARKET_IDS[index % len(MARKET_IDS)],
        accepts_marketing=rng.random() < 0.5,
    )


def contact_for(channel: str, customer: Customer) -> str:
    """The ``contact`` value of an intent on ``channel``."""
    if channel == "sms":
        return customer.phone
    if channel == "push":
        return f"push-{customer.customer_id}"
    return customer.email


def make_intent(
    rng: random.Random,
    *,
    variant: Variant,
    customer: Customer,
    shop_id: str,
    created_ts: float,
    channel: str = "email",
    quantity: int = 1,
    intent_type: str = "restock",
    intent_trigger_id: str | None = None,
) -> IntentRecord:
    """A pending (never notified, subscribed) intent."""
    created = iso_from_timestamp(created_ts)
    return {
        "id": seeded_uuid(rng),
        "type": intent_type,
        "channel": channel,
        "email": customer.email,
        "phone": customer.phone,
        "contact": contact_for(channel, customer),
        "customer_name": customer.name,
        "customer_id": customer.customer_id,
        "shop_id": shop_id,
        "product_variant_id": variant.product_variant_id,
        "intent_trigger_id": intent_trigger_id,
        "shopify_variant_id": variant.shopify_variant_id,
        "shopify_product_id": variant.shopify_product_id,
        "shopify_inventory_item_id": variant.shopify_inventory_item_id,
        "shopify_market_id": customer.market_id,
        "quantity": quantity,
        "sent_notifications_count": 0,
        "notifications_count": 0,
        "optin_confirmed": True,
        "accepts_marketing": customer.accepts_marketing,
        "notified_at": None,
        "blocked_at": None,
        "unsubscribed_at": None,
        "customer_unsubscribed_at": None,
        "created_at": created,
        "updated_at": created,
    }


def _apply_history(rng: random.Random, intent: IntentRecord, created_ts: float, anchor_ts: float) -> None:
    """Give a seeded intent its mixed state: ~10 % notified, ~5 % unsubscribed, ~3 % customer
    unsubscribed, ~2 % blocked, the rest pending."""
    draw = rng.random()
    if draw >= 0.20:
        return
    changed = iso_from_timestamp(created_ts + rng.random() * (anchor_ts - created_ts))
    if draw < 0.10:
        intent["notified_at"] = changed
        intent["sent_notifications_count"] = 1
        intent["notifications_count"] = 1
    elif draw < 0.15:
        intent["unsubscribed_at"] = changed
    elif draw < 0.18:
        intent["customer_unsubscribed_at"] = changed
    else:
        intent["blocked_at"] = changed
    intent["updated_at"] = changed


def generate(options: SeedOptions) -> SeedResult:
    """Build the catalog and intents described by ``options``.

    Intents go round-robin over the variants (intent ``i`` is on variant ``i % variants``) and
    customer ``i // variants`` owns it, so a customer never has two intents on one variant.
    """
    rng = random.Random(options.seed)
    shop_id = seeded_uuid(rng)
    catalog = Catalog()
    variant_count = max(1, options.variants)
    for index in range(variant_count):
        catalog.add(make_variant(rng, index))
    variants = list(catalog)
    triggers = [seeded_uuid(rng) for _ in range(3)]
    anchor_ts = midnight_utc_timestamp(options.anchor or today_utc())

    intents: list[IntentRecord] = []
    customer: Customer | None = None
    for i in range(options.intents):
        if i % variant_count == 0:
            customer = make_customer(rng, i // variant_count)
        assert customer is not None
        created_ts = anchor_ts - 60 - int(rng.random() * (HISTORY_SECONDS - 60))
        channel_draw = rng.random()
        channel = "email" if channel_draw < 0.70 else "sms" if channel_draw < 0.95 else "push"
        wishlist = rng.random() < 0.10
        trigger = triggers[i % len(triggers)] if rng.random() < 0.30 else None
        intent = make_intent(
            rng,
            variant=variants[i % variant_count],
            customer=customer,
            shop_id=shop_id,
            created_ts=created_ts,
            channel=channel,
            quantity=rng.randint(1, 3),
            intent_type="wishlist_reminder" if wishlist and not options.pending_only else "restock",
            intent_trigger_id=trigger,
        )
        intent["optin_confirmed"] = rng.random() < 0.9 or options.pending_only
        if not options.pending_only:
            _apply_history(rng, intent, created_ts, anchor_ts)
        intents.append(intent)
    customers = (options.intents + variant_count - 1) // variant_count
    return SeedResult(shop_id=shop_id, catalog=catalog, intents=intents, customers=customers)
