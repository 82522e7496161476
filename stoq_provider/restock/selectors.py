"""Parse what DAG authors hand to operators, sensors and notifiers: ID lists and inventory mappings.

Values arrive as Python lists, as the output of an upstream task (an ``XComArg`` resolved at run time), or as
the rendered text of a Jinja template (``"[1, 2]"`` or ``"1,2"``). Every error names the parameter and is
raised before any request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stoq_provider.api import validation
from stoq_provider.exceptions import StoqConfigError


def _as_items(value: Any, name: str) -> list[Any]:
    if value is None:
        raise StoqConfigError(f"{name} is missing: give a list of IDs.")
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise StoqConfigError(f"{name} is not a valid JSON list: {text[:80]!r}.") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()] if text else []
    elif isinstance(value, (int,)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable) or isinstance(value, str):
        raise StoqConfigError(f"{name} must be a list of IDs, got {type(value).__name__}.")
    items = list(value)
    if not items:
        raise StoqConfigError(f"{name} is empty: give at least one ID.")
    return items


def shopify_ids(value: Any, name: str) -> list[int]:
    """Shopify variant or product IDs, de-duplicated in order."""
    return list(dict.fromkeys(validation.shopify_id(item, name) for item in _as_items(value, name)))


def intent_ids(value: Any, name: str = "intent_ids") -> list[str]:
    """STOQ intent IDs, de-duplicated in order."""
    return validation.intent_ids(_as_items(value, name), name)


def inventory(value: Any, name: str = "inventory") -> dict[int, int]:
    """``{shopify_variant_id: units_available}`` from a mapping or its JSON text; units must be whole and >= 0."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise StoqConfigError(f"{name} is not valid JSON: {value[:80]!r}.") from None
    if not isinstance(value, Mapping):
        raise StoqConfigError(f"{name} must be a mapping of Shopify variant ID to units available.")
    if not value:
        raise StoqConfigError(f"{name} is empty: give at least one variant.")
    result: dict[int, int] = {}
    for key, units in value.items():
        variant = validation.shopify_id(key, f"{name} key")
        if isinstance(units, bool) or not isinstance(units, (int, float, str)):
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units, got {units!r}.")
        try:
            number = float(units)
        except ValueError:
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units, got {units!r}.") from None
        if number < 0 or number != int(number):
            raise StoqConfigError(f"{name}[{variant}] must be a whole number of units >= 0, got {units!r}.")
        result[variant] = int(number)
    return result


def exactly_one(owner: str, **selectors: Any) -> str:
    """The name of the one selector that is set; errors name the selectors when none or several are."""
    given = [name for name, value in selectors.items() if value is not None]
    if len(given) == 1:
        return given[0]
    options = ", ".join(selectors)
    if not given:
        raise StoqConfigError(f"{owner} needs exactly one of {options}; none was given.")
    raise StoqConfigError(f"{owner} needs exactly one of {options}; got {len(given)}: {', '.join(given)}.")
