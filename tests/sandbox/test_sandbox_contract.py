"""Contract check: a property-based run of schemathesis against the sandbox's own OpenAPI document.

The sandbox serves an OpenAPI 3 description of the STOQ v1 contract at ``/openapi.json``: the
authenticated ``/api/v1/external`` endpoints and the public storefront signup (the ``/_sandbox`` admin
routes are not in it). Here schemathesis loads that document from the running server over real HTTP
on loopback, generates requests for every operation (valid ones, invalid ones, and valid ones with a
wrong key) and checks every answer: no server error, a documented status code, the documented content
type, headers and body schema; a request that succeeds with the key must be refused without it.

Random ids would only ever meet ``404``, so a share of the generated requests carry ids and variants
the sandbox really has (drawn by Hypothesis, so the run stays reproducible): the success bodies are
checked too. The run is derandomized and bounded (``MAX_EXAMPLES`` per operation and mode).

schemathesis' own pytest loader for a schema that only exists at run time
(``schemathesis.pytest.from_fixture``) does not work with pytest 9.2 (it reads ``Item._nodeid``), so the
operations are parametrized here and each is driven with ``APIOperation.as_strategy`` and Hypothesis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stoq_provider.sandbox import SandboxServer  # noqa: E402

pytestmark = pytest.mark.sandbox

#: Generated requests per operation and mode.
MAX_EXAMPLES = 40
#: A key the sandbox does not accept (right shape, wrong value).
WRONG_KEY = "stoq_api_key_" + "x" * 32
#: What every answer is checked for.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]

LIST_INTENTS = "GET /api/v1/external/intents"
PRODUCTS_IN_DEMAND = "GET /api/v1/external/intents/products_in_demand"
GET_INTENT = "GET /api/v1/external/intents/{intent_id}"
NOTIFY_INTENT = "POST /api/v1/external/intents/notify_intent"
BULK_NOTIFY = "POST /api/v1/external/intents/bulk_notify_intent"
BULK_DESTROY = "DELETE /api/v1/external/intents/bulk_destroy"
TRANSFER_SIGNUPS = "POST /api/v1/external/intents/transfer_signups"
CREATE_INTENT = "POST /api/v1/intents.json"
#: Every operation of the contract, with the status codes the contract documents for it.
CONTRACT: dict[str, set[str]] = {
    LIST_INTENTS: {"200", "400", "401"},
    PRODUCTS_IN_DEMAND: {"200"},
    GET_INTENT: {"200", "401", "404"},
    NOTIFY_INTENT: {"200", "401", "404", "422"},
    BULK_NOTIFY: {"200", "207", "400", "401"},
    BULK_DESTROY: {"200", "400", "401", "404", "422"},
    TRANSFER_SIGNUPS: {"200", "400", "401", "422"},
    CREATE_INTENT: {"200", "201", "400", "401", "404"},
}
AUTHENTICATED = [label for label in CONTRACT if label != CREATE_INTENT]
#: Modes: schemathesis' positive and negative generation, and positive requests sent with a wrong key.
UNAUTHENTICATED = "unauthenticated"
MODES = (GenerationMode.POSITIVE.value, GenerationMode.NEGATIVE.value, UNAUTHENTICATED)


@dataclass(frozen=True)
class Known:
    """Ids and variants the sandbox really has, for requests that should get past ``404``."""

    intent_ids: list[str]
    variants: list[tuple[int, int]]

    @classmethod
    def of(cls, sandbox: SandboxServer) -> Known:
        return cls(
            intent_ids=[intent["id"] for intent in sandbox.intents()],
            variants=[(v["shopify_variant_id"], v["shopify_product_id"]) for v in sandbox.catalog()],
        )


def _is_int(value: Any) -> bool:
    return type(value) is int  # not a bool: negative cases use those in place of integers


def _use_known(case: Any, draw: Callable[[st.SearchStrategy[Any]], Any], known: Known) -> None:
    """Half the time, replace a generated id or variant by one the sandbox has.

    Only values that are present and of the documented type are replaced, so a negative case stays
    negative in whatever else it breaks.
    """
    if not draw(st.booleans()):
        return
    label, body = case.operation.label, case.body
    some_id = st.sampled_from(known.intent_ids)
    some_variant = st.sampled_from(known.variants)
    if label == GET_INTENT and isinstance(case.path_parameters.get("intent_id"), str):
        case.path_parameters["intent_id"] = draw(some_id)
    elif not isinstance(body, dict):
        return
    elif label == NOTIFY_INTENT and isinstance(body.get("id"), str):
        body["id"] = draw(some_id)
    elif label in (BULK_NOTIFY, BULK_DESTROY):
        ids = body.get("intent_ids")
        if isinstance(ids, list) and ids and all(isinstance(item, str) for item in ids):
            body["intent_ids"] = draw(st.lists(some_id, min_size=1, max_size=5))
    elif label == TRANSFER_SIGNUPS:
        for side in ("from", "to") if draw(st.booleans()) else ("from",):
            keys = (f"{side}_shopify_variant_id", f"{side}_shopify_product_id")
            if all(_is_int(body.get(key)) for key in keys):
                body[keys[0]], body[keys[1]] = draw(some_variant)
    elif label == CREATE_INTENT and isinstance(body.get("intent"), dict):
        intent = body["intent"]
        if _is_int(intent.get("shopify_variant_id")) and _is_int(intent.get("shopify_product_id")):
            intent["shopify_variant_id"], intent["shopify_product_id"] = draw(some_variant)


@pytest.fixture
def contract_schema(stoq_sandbox: SandboxServer) -> Any:
    """The sandbox's OpenAPI document, loaded by schemathesis from the running server."""
    # 429 is part of the contract (and documented), but a run that spends the budget checks little
    # else: give this store a budget the run cannot exhaust.
    stoq_sandbox.configure(budget=1_000_000)
    config = schemathesis.Config.from_dict(
        {
            "base-url": stoq_sandbox.origin,
            # The signup endpoint answers only its own shop; the key goes where the document says.
            "headers": {"X-Shopify-Shop-Domain": stoq_sandbox.shop_domain},
            "auth": {"openapi": {"APIKeyHeader": {"api_key": stoq_sandbox.api_key}}},
            # Invalid requests break the documented parameters and bodies; the key's own mode breaks the key.
            "generation": {"with-security-parameters": False},
        }
    )
    return schemathesis.openapi.from_url(stoq_sandbox.openapi_url, config=config, timeout=10)


def test_document_describes_every_contract_operation(stoq_sandbox: SandboxServer) -> None:
    document = stoq_sandbox.openapi()
    assert document["openapi"].startswith("3.")
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == set(CONTRACT), "the document lists exactly the contract's operations"
    assert not any(path.startswith("/_sandbox") for path in document["paths"])
    scheme = document["components"]["securitySchemes"]["APIKeyHeader"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    for label, statuses in CONTRACT.items():
        operation = operations[label]
        assert statuses <= set(operation["responses"]), label
        if label in AUTHENTICATED:
            assert operation["security"] == [{"APIKeyHeader": []}], label
            assert "429" in operation["responses"], label
    signup = operations[CREATE_INTENT]
    assert "security" not in signup
    shop_header = {"name": "X-Shopify-Shop-Domain", "in": "header", "required": True}
    assert shop_header.items() <= signup["parameters"][0].items()


def _runs() -> list[tuple[str, str]]:
    """Every (operation, mode) pair that means something; two do not, and are left out rather than skipped:
    the storefront signup takes no key (no wrong-key mode), and get_intent's only input, a non-empty string in
    the path, has no invalid value a URL can carry (no negative mode)."""
    return [
        (label, mode)
        for label in CONTRACT
        for mode in MODES
        if not (mode == UNAUTHENTICATED and label not in AUTHENTICATED)
        and not (mode == GenerationMode.NEGATIVE.value and label == GET_INTENT)
    ]


@pytest.mark.parametrize(("label", "mode"), _runs())
def test_operation_honours_the_contract(
    label: str, mode: str, contract_schema: Any, stoq_sandbox: SandboxServer
) -> None:
    operation = contract_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from the document"
    known = Known.of(stoq_sandbox)
    generation = GenerationMode.POSITIVE if mode == UNAUTHENTICATED else GenerationMode(mode)
    headers = {"X-Auth-Token": WRONG_KEY} if mode == UNAUTHENTICATED else None
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(generation), data=st.data())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def check(case: Any, data: st.DataObject) -> None:
        _use_known(case, data.draw, known)
        response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)
        statuses[response.status_code] += 1

    check()
    print(f"{label} [{mode}]: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert statuses, "nothing was sent"
    if mode == UNAUTHENTICATED:
        assert set(statuses) == {401}
    elif generation is GenerationMode.POSITIVE:
        assert 401 not in statuses and 429 not in statuses, "valid requests must get past the key and the budget"
