"""The bad-input matrix: every way a caller or STOQ can hand the provider something wrong, table-driven.

Each raising case runs one call of the sync hook, the async hook, the operator or the sensor against the
sandbox over real HTTP (or is refused before any request) and checks that the error

* is one exception of the expected class (a :mod:`stoq_provider.exceptions` class, or Airflow's own for
  Airflow-level arguments);
* names the offending parameter or HTTP status, and says what to do;
* is one line with no traceback, no ``requests``/``urllib3``/``httpx`` text, no API key and no customer contact,
  and does not chain to an HTTP client's exception;
* left the ledger empty (nothing was sent), and, where the input is refused up front, that no request at all
  reached the sandbox.

The notifier runs as a task callback: it must not raise, and must log one clear error instead. Unknown extra
fields in STOQ's answers must be tolerated: those cases succeed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from stoq_provider.exceptions import (
    StoqAuthError,
    StoqConfigError,
    StoqError,
    StoqNotFoundError,
    StoqNotifyPartialFailure,
    StoqProtocolError,
    StoqRequestError,
    StoqServerError,
    StoqTransportError,
)
from stoq_provider.hooks.stoq import StoqHook
from stoq_provider.hooks.stoq_async import StoqAsyncHook
from stoq_provider.notifications.stoq import StoqNotifier
from stoq_provider.operators.notify import StoqNotifyOperator
from stoq_provider.sandbox import SandboxServer
from stoq_provider.sensors.intents import StoqPendingIntentsSensor

pytestmark = [pytest.mark.bad_input, pytest.mark.sandbox]

#: An intent ID the sandbox does not know.
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
#: A connection id no test defines.
MISSING_CONN = "stoq_bad_input_missing"
#: A well-formed key the sandbox does not accept.
WRONG_KEY = "stoq_api_key_" + "w" * 32
#: ``host`` placeholder: a loopback port with nothing listening, chosen when the case runs.
CLOSED_PORT = "<closed loopback port>"
#: ``host`` placeholder: the sandbox (plain HTTP) addressed as ``https://``.
HTTPS_TO_SANDBOX = "<https:// to the sandbox>"
#: Text that must never be (part of) an error message.
FORBIDDEN = ("Traceback", 'File "', "requests.exceptions", "urllib3", "httpx.", "httpcore")
#: Packages whose exceptions must not be the cause of a provider error.
HTTP_CLIENTS = {"requests", "urllib3", "httpx", "httpcore", "h11"}
_KEEP: Any = object()


# ----------------------------------------------------------------------------------------------- plumbing


class _TI:
    """The one piece of the task context the operator touches: XCom push."""

    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


@dataclass
class Env:
    """What a case needs: the sandbox, and a way to (re)define the connection."""

    sandbox: SandboxServer
    monkeypatch: pytest.MonkeyPatch
    define: Callable[..., None]
    password: str | None = None

    def connect(self, *, password: Any = _KEEP, host: Any = _KEEP, schema: Any = _KEEP, **extra: Any) -> None:
        """Point ``stoq_default`` at the sandbox (fast retries), overriding the key, host, schema or extras."""
        self.define(**extra)
        name = "AIRFLOW_CONN_STOQ_DEFAULT"
        payload = json.loads(os.environ[name])
        if password is not _KEEP:
            payload["password"] = password
        if host == CLOSED_PORT:
            host = f"http://127.0.0.1:{closed_port()}/api/v1/external"
        if host == HTTPS_TO_SANDBOX:
            host = self.sandbox.base_url.replace("http://", "https://")
        if host is not _KEEP:
            payload["host"] = host
        if schema is not _KEEP:
            payload["schema"] = schema
        self.password = payload.get("password")
        self.monkeypatch.setenv(name, json.dumps(payload))
        self.monkeypatch.delenv(f"AIRFLOW_CONN_{MISSING_CONN.upper()}", raising=False)

    def eligible(self) -> list[dict[str, Any]]:
        """Intents an alert can reach: never notified, subscribed, unblocked, ``restock``."""
        return [
            i
            for i in self.sandbox.intents()
            if i["type"] == "restock"
            and not (i["notified_at"] or i["blocked_at"] or i["unsubscribed_at"] or i["customer_unsubscribed_at"])
        ]

    def pending_ids(self, count: int = 2) -> list[str]:
        return [i["id"] for i in self.eligible()[:count]]

    def variant(self) -> int:
        return int(self.eligible()[0]["shopify_variant_id"])

    def blocked_id(self) -> str:
        return next(i["id"] for i in self.sandbox.intents() if i["blocked_at"] and not i["notified_at"])


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def operate(**kwargs: Any) -> dict[str, Any]:
    """Run the operator as a task would, with a minimal context."""
    return StoqNotifyOperator(task_id="bad_input_notify", **kwargs).execute({"ti": _TI()})  # type: ignore[arg-type]


def poke(**kwargs: Any) -> Any:
    """One poke of the sensor."""
    return StoqPendingIntentsSensor(task_id="bad_input_wait", **kwargs).poke({})  # type: ignore[arg-type]


def alist(conn_id: str = "stoq_default", **filters: Any) -> list[dict[str, Any]]:
    """Drain ``StoqAsyncHook.list_intents`` in a real event loop, closing the client."""

    async def run() -> list[dict[str, Any]]:
        hook = StoqAsyncHook(conn_id)
        try:
            return [intent async for intent in hook.list_intents(**filters)]
        finally:
            await hook.aclose()

    return asyncio.run(run())


def always(kind: str, *endpoints: str) -> dict[str, Any]:
    """Fault settings: every request to ``endpoints`` meets ``kind``."""
    return {"rate": 1.0, "kinds": [kind], "endpoints": list(endpoints)}


@dataclass(frozen=True)
class Case:
    """One row of the matrix.

    :param id: the test id.
    :param run: the call, given the :class:`Env`.
    :param error: the exception class expected.
    :param names: regex the message must match: the offending parameter or the HTTP status.
    :param hint: regex (case-insensitive) the message must match: what to do.
    :param where: ``before`` (refused before any request), ``sandbox`` (the sandbox was asked) or ``elsewhere``
        (a request was attempted, but not to the sandbox).
    :param conn: overrides for :meth:`Env.connect` (``password``, ``host`` or extras).
    :param faults: sandbox fault settings for the case.
    """

    id: str
    run: Callable[[Env], Any]
    error: type[BaseException]
    names: str
    hint: str
    where: str = "before"
    conn: Mapping[str, Any] = field(default_factory=dict)
    faults: Mapping[str, Any] | None = None


def _param(case: Case) -> Any:
    return pytest.param(case, id=case.id)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def check_message(env: Env, message: str, names: str, hint: str) -> None:
    """One clear line: names the parameter or status, says what to do, leaks nothing."""
    assert re.search(names, message), f"{names!r} not named in: {message}"
    assert re.search(hint, message, re.IGNORECASE), f"no hint {hint!r} in: {message}"
    assert len(message.splitlines()) == 1, f"not one line: {message!r}"
    for text in FORBIDDEN:
        assert text not in message, f"{text!r} in: {message}"
    pii = env.sandbox.pii()
    secrets = [pii["api_key"], env.password, WRONG_KEY, *pii["emails"], *pii["phones"]]
    assert not [s for s in secrets if s and s.strip() and s in message], f"a secret or contact in: {message}"


# ------------------------------------------------------------------------------------------ the matrix

HOOK_CASES = [
    # -- IDs
    Case(
        "hook-variant-id-non-numeric",
        lambda env: StoqHook().list_intents(shopify_variant_id="4000abc"),
        StoqConfigError,
        r"shopify_variant_id",
        r"must be a positive integer",
    ),
    Case(
        "hook-product-id-negative",
        lambda env: StoqHook().list_intents(shopify_product_id=-5),
        StoqConfigError,
        r"shopify_product_id",
        r"must be a positive integer",
    ),
    Case(
        "hook-intent-id-empty",
        lambda env: StoqHook().get_intent(""),
        StoqConfigError,
        r"intent_id",
        r"must be a non-empty",
    ),
    Case(
        "hook-intent-id-with-slash",
        lambda env: StoqHook().get_intent("../admin"),
        StoqConfigError,
        r"intent_id",
        r"without spaces or slashes",
    ),
    Case(
        "hook-intent-id-not-a-string",
        lambda env: StoqHook().notify_intent(["a"]),  # type: ignore[arg-type]
        StoqConfigError,
        r"intent_id",
        r"must be a STOQ intent ID string",
    ),
    Case(
        "hook-intent-ids-empty",
        lambda env: StoqHook().bulk_notify_intents([]),
        StoqConfigError,
        r"intent_ids",
        r"give at least one",
    ),
    Case(
        "hook-intent-ids-bare-string",
        lambda env: StoqHook().delete_intents("abc"),  # type: ignore[arg-type]
        StoqConfigError,
        r"intent_ids",
        r"must be a list",
    ),
    Case(
        "hook-transfer-variant-non-numeric",
        lambda env: StoqHook().transfer_signups(
            from_variant_id="4000-1", from_product_id=8000000000, to_variant_id=40000000001, to_product_id=8000000000
        ),
        StoqConfigError,
        r"from_variant_id",
        r"must be a positive integer",
    ),
    # -- sizes, choices
    Case(
        "hook-batch-size-zero",
        lambda env: StoqHook().bulk_notify_intents(env.pending_ids(), batch_size=0),
        StoqConfigError,
        r"batch_size",
        r"must be a positive integer",
    ),
    Case(
        "hook-batch-size-huge",
        lambda env: StoqHook().bulk_notify_intents(env.pending_ids(), batch_size=10**6),
        StoqConfigError,
        r"batch_size",
        r"must be at most 1000",
    ),
    Case(
        "hook-transfer-intent-type",
        lambda env: StoqHook().transfer_signups(
            from_variant_id=40000000000,
            from_product_id=8000000000,
            to_variant_id=40000000001,
            to_product_id=8000000000,
            intent_type="everything",
        ),
        StoqConfigError,
        r"intent_type",
        r"must be one of unsent, sent, all",
    ),
    Case(
        "hook-notified-not-a-bool",
        lambda env: StoqHook().list_intents(notified="no"),  # type: ignore[arg-type]
        StoqConfigError,
        r"notified",
        r"must be True, False or None",
    ),
    Case(
        "hook-email-filter-blank",
        lambda env: StoqHook().list_intents(email="   "),
        StoqConfigError,
        r"email",
        r"must be a non-empty string",
    ),
    # -- dates
    Case(
        "hook-start-date-impossible",
        lambda env: StoqHook().list_intents(start_date="2026-02-30"),
        StoqConfigError,
        r"start_date",
        r"must be a date.*YYYY-MM-DD",
    ),
    Case(
        "hook-end-date-words",
        lambda env: StoqHook().products_in_demand(end_date="tomorrow"),
        StoqConfigError,
        r"end_date",
        r"must be a date.*YYYY-MM-DD",
    ),
    Case(
        "hook-date-not-a-date",
        lambda env: StoqHook().products_in_demand(start_date=20260101),
        StoqConfigError,
        r"start_date",
        r"must be a date.*YYYY-MM-DD",
    ),
    Case(
        "hook-date-range-reversed",
        lambda env: StoqHook().list_intents(start_date=dt.date(2026, 5, 2), end_date="2026-05-01"),
        StoqConfigError,
        r"start_date.*end_date",
        r"swap them",
    ),
    # -- create_intent
    Case(
        "hook-create-channel-unknown",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, channel="fax", email="a@example.org"
        ),
        StoqConfigError,
        r"channel",
        r"must be one of email, sms, push",
    ),
    Case(
        "hook-create-quantity-zero",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, quantity=0, email="a@example.org"
        ),
        StoqConfigError,
        r"quantity",
        r"must be a positive integer",
    ),
    Case(
        "hook-create-email-malformed",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, email="not-an-address"
        ),
        StoqConfigError,
        r"email",
        r"pass the customer's address",
    ),
    Case(
        "hook-create-sms-without-phone",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, channel="sms"
        ),
        StoqConfigError,
        r"phone",
        r"pass the customer's phone",
    ),
    Case(
        "hook-create-without-shop-domain",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, email="a@example.org"
        ),
        StoqConfigError,
        r"shop_domain",
        r"e\.g\. 'my-store\.myshopify\.com'",
        conn={"shop_domain": ""},
    ),
    # -- the connection
    Case(
        "conn-missing",
        lambda env: StoqHook(MISSING_CONN).get_intent("abc"),
        StoqConfigError,
        re.escape(repr(MISSING_CONN)),
        r"Create it with conn type 'stoq'",
    ),
    Case(
        "conn-blank-key",
        lambda env: list(StoqHook().list_intents()),
        StoqConfigError,
        r"no API key",
        r"Put the store's STOQ API key in the connection's password",
        conn={"password": "   "},
    ),
    Case(
        "conn-http-to-remote-host",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"http://",
        r"Use https://",
        conn={"host": "http://stoq.example.com/api/v1/external"},
    ),
    Case(
        "conn-host-not-http",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"host",
        r"must be an http\(s\) URL such as",
        conn={"host": "ftp://app.stoqapp.com/x"},
    ),
    Case(
        "conn-credentials-in-host",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"host",
        r"the API key goes in the password",
        conn={"host": "https://user:secret@app.stoqapp.com/api/v1/external"},
    ),
    Case(
        "conn-shop-domain-not-myshopify",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, email="a@example.org"
        ),
        StoqConfigError,
        r"shop_domain",
        r"must look like 'my-store\.myshopify\.com'",
        conn={"shop_domain": "my-store.com"},
    ),
    Case(
        "conn-shop-domain-as-url",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"shop_domain",
        r"must look like 'my-store\.myshopify\.com'",
        conn={"shop_domain": "https://sandbox-shop.myshopify.com"},
    ),
    Case(
        "conn-batch-size-zero",
        lambda env: StoqHook().bulk_notify_intents(env.pending_ids()),
        StoqConfigError,
        r"'batch_size'",
        r"must be positive",
        conn={"batch_size": 0},
    ),
    Case(
        "conn-batch-size-huge",
        lambda env: StoqHook().bulk_notify_intents(env.pending_ids()),
        StoqConfigError,
        r"'batch_size'",
        r"must be at most 1000",
        conn={"batch_size": 250000},
    ),
    Case(
        "conn-timeout-not-a-number",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"'timeout'",
        r"must be a number",
        conn={"timeout": "soon"},
    ),
    Case(
        "conn-extra-misspelled",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"'batchsize'",
        r"did you mean 'batch_size'\?",
        conn={"batchsize": 500},
    ),
    Case(
        "conn-path-in-host-and-schema",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"schema",
        r"part of the base URL would be lost\. Put the whole base URL in host",
        conn={"host": "https://proxy.example.com/stoq", "schema": "api/v1/external"},
    ),
    Case(
        "conn-https-to-a-plain-http-server",
        lambda env: StoqHook().get_intent("abc"),
        StoqConfigError,
        r"plain HTTP",
        r"set the connection's host to 'http://127\.0\.0\.1",
        "elsewhere",
        conn={"host": HTTPS_TO_SANDBOX, "max_retries": 1},
    ),
    # -- STOQ refuses
    Case(
        "hook-wrong-key-401",
        lambda env: StoqHook().get_intent(env.pending_ids(1)[0]),
        StoqAuthError,
        r"401",
        r"Check the password of Airflow connection 'stoq_default'",
        "sandbox",
        conn={"password": WRONG_KEY},
    ),
    Case(
        "hook-get-unknown-intent-404",
        lambda env: StoqHook().get_intent(UNKNOWN_ID),
        StoqNotFoundError,
        r"404",
        r"Check the IDs",
        "sandbox",
    ),
    Case(
        "hook-notify-unknown-intent-404",
        lambda env: StoqHook().notify_intent(UNKNOWN_ID),
        StoqNotFoundError,
        r"404",
        r"Check the IDs",
        "sandbox",
    ),
    Case(
        "hook-delete-unknown-intents-404",
        lambda env: StoqHook().delete_intents([UNKNOWN_ID]),
        StoqNotFoundError,
        r"404",
        r"Check the IDs",
        "sandbox",
    ),
    Case(
        "hook-notify-blocked-intent-422",
        lambda env: StoqHook().notify_intent(env.blocked_id()),
        StoqRequestError,
        r"blocked",
        r"Check the intent with get_intent",
        "sandbox",
    ),
    Case(
        "hook-transfer-same-variant-400",
        lambda env: StoqHook().transfer_signups(
            from_variant_id=40000000000, from_product_id=8000000000, to_variant_id=40000000000, to_product_id=8000000000
        ),
        StoqRequestError,
        r"400",
        r"Check the parameters",
        "sandbox",
    ),
    Case(
        "hook-create-unknown-shop-404",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, email="a@example.org"
        ),
        StoqNotFoundError,
        r"404.*shop domain",
        r"Check both",
        "sandbox",
        conn={"shop_domain": "other-shop.myshopify.com"},
    ),
    Case(
        "hook-nothing-listening",
        lambda env: StoqHook().get_intent("abc"),
        StoqTransportError,
        r"failed or was dropped",
        r"Check network access to http://127\.0\.0\.1",
        "elsewhere",
        conn={"host": CLOSED_PORT},
    ),
    # -- STOQ answers something broken
    Case(
        "hook-list-non-json-200",
        lambda env: list(StoqHook().list_intents()),
        StoqServerError,
        r"answered 200 .*not JSON",
        r"check that connection 'stoq_default' points at the STOQ API",
        "sandbox",
        faults=always("garbage", "list_intents"),
    ),
    Case(
        "hook-get-html-502",
        lambda env: StoqHook().get_intent(env.pending_ids(1)[0]),
        StoqServerError,
        r"502 with an HTML error page",
        r"run the task again later",
        "sandbox",
        faults=always("html502", "get_intent"),
    ),
    Case(
        "hook-list-wrong-shape",
        lambda env: list(StoqHook().list_intents()),
        StoqProtocolError,
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "list_intents"),
    ),
    Case(
        "hook-get-wrong-shape",
        lambda env: StoqHook().get_intent(env.pending_ids(1)[0]),
        StoqProtocolError,
        r"get_intent",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "get_intent"),
    ),
    Case(
        "hook-demand-wrong-shape",
        lambda env: list(StoqHook().products_in_demand()),
        StoqProtocolError,
        r"products_in_demand",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "products_in_demand"),
    ),
    Case(
        "hook-bulk-notify-wrong-shape",
        lambda env: StoqHook().bulk_notify_intents(env.pending_ids(3)),
        StoqProtocolError,
        r"bulk_notify_intents",
        r"check the intents .*before sending again",
        "sandbox",
        faults=always("wrong_shape", "bulk_notify"),
    ),
    Case(
        "hook-notify-wrong-shape",
        lambda env: StoqHook().notify_intent(env.pending_ids(1)[0]),
        StoqProtocolError,
        r"notify_intent",
        r"check the intents .*before sending again",
        "sandbox",
        faults=always("wrong_shape", "notify_intent"),
    ),
    Case(
        "hook-delete-wrong-shape",
        lambda env: StoqHook().delete_intents(env.pending_ids(1)),
        StoqProtocolError,
        r"delete_intents.*deleted_count",
        r"list them before deleting again",
        "sandbox",
        faults=always("wrong_shape", "bulk_destroy"),
    ),
    Case(
        "hook-create-wrong-shape",
        lambda env: StoqHook().create_intent(
            shopify_variant_id=40000000000, shopify_product_id=8000000000, email="a@example.org"
        ),
        StoqProtocolError,
        r"create_intent",
        r"check with list_intents",
        "sandbox",
        faults=always("wrong_shape", "create_intent"),
    ),
    Case(
        "hook-list-page-larger-than-asked",
        lambda env: list(StoqHook().list_intents()),
        StoqProtocolError,
        r"501 intents on a page of 500",
        r"Report this to STOQ support",
        "sandbox",
        faults=always("oversize", "list_intents"),
    ),
    Case(
        "hook-demand-page-larger-than-asked",
        lambda env: list(StoqHook().products_in_demand()),
        StoqProtocolError,
        r"501 variants on a products_in_demand page of 500",
        r"Report this to STOQ support",
        "sandbox",
        faults=always("oversize", "products_in_demand"),
    ),
]

ASYNC_CASES = [
    Case(
        "async-variant-id-non-numeric",
        lambda env: alist(shopify_variant_id="x1"),
        StoqConfigError,
        r"shopify_variant_id",
        r"must be a positive integer",
    ),
    Case(
        "async-date-range-reversed",
        lambda env: alist(start_date="2026-06-02", end_date="2026-06-01"),
        StoqConfigError,
        r"start_date.*end_date",
        r"swap them",
    ),
    Case(
        "async-conn-missing",
        lambda env: alist(MISSING_CONN),
        StoqConfigError,
        re.escape(repr(MISSING_CONN)),
        r"Create it with conn type 'stoq'",
    ),
    Case(
        "async-conn-blank-key",
        lambda env: alist(),
        StoqConfigError,
        r"no API key",
        r"Put the store's STOQ API key in the connection's password",
        conn={"password": ""},
    ),
    Case(
        "async-conn-https-to-a-plain-http-server",
        lambda env: alist(),
        StoqConfigError,
        r"plain HTTP",
        r"set the connection's host to 'http://127\.0\.0\.1",
        "elsewhere",
        conn={"host": HTTPS_TO_SANDBOX, "max_retries": 1},
    ),
    Case(
        "async-conn-http-to-remote-host",
        lambda env: alist(),
        StoqConfigError,
        r"http://",
        r"Use https://",
        conn={"host": "http://10.1.2.3:8080/api/v1/external"},
    ),
    Case(
        "async-wrong-key-401",
        lambda env: alist(),
        StoqAuthError,
        r"401",
        r"Check the password of Airflow connection 'stoq_default'",
        "sandbox",
        conn={"password": WRONG_KEY},
    ),
    Case(
        "async-list-non-json-200",
        lambda env: alist(),
        StoqServerError,
        r"answered 200 .*not JSON",
        r"points at the STOQ API",
        "sandbox",
        faults=always("garbage", "list_intents"),
    ),
    Case(
        "async-list-html-502",
        lambda env: alist(),
        StoqServerError,
        r"502 with an HTML error page",
        r"run the task again later",
        "sandbox",
        faults=always("html502", "list_intents"),
    ),
    Case(
        "async-list-wrong-shape",
        lambda env: alist(),
        StoqProtocolError,
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "list_intents"),
    ),
    Case(
        "async-list-page-larger-than-asked",
        lambda env: alist(),
        StoqProtocolError,
        r"501 intents on a page of 500",
        r"Report this to STOQ support",
        "sandbox",
        faults=always("oversize", "list_intents"),
    ),
]

OPERATOR_CASES = [
    Case(
        "operator-no-selector",
        lambda env: operate(),
        StoqConfigError,
        r"intent_ids, shopify_variant_ids, shopify_product_ids, inventory",
        r"needs exactly one of",
    ),
    Case(
        "operator-two-selectors",
        lambda env: operate(shopify_variant_ids=[env.variant()], intent_ids=["a"]),
        StoqConfigError,
        r"got 2: intent_ids, shopify_variant_ids",
        r"needs exactly one of",
    ),
    Case(
        "operator-variant-ids-non-numeric",
        lambda env: operate(shopify_variant_ids=[env.variant(), "abc"]),
        StoqConfigError,
        r"shopify_variant_ids",
        r"must be a positive integer",
    ),
    Case(
        "operator-product-ids-negative-jinja",
        lambda env: operate(shopify_product_ids="[8000000000, -2]"),
        StoqConfigError,
        r"shopify_product_ids",
        r"must be a positive integer",
    ),
    Case(
        "operator-variant-ids-empty-jinja",
        lambda env: operate(shopify_variant_ids="  "),
        StoqConfigError,
        r"shopify_variant_ids is empty",
        r"give at least one",
    ),
    Case(
        "operator-intent-ids-blank-item",
        lambda env: operate(intent_ids=[env.pending_ids(1)[0], " "]),
        StoqConfigError,
        r"intent_ids",
        r"must be a non-empty STOQ intent ID",
    ),
    Case(
        "operator-batch-size-zero",
        lambda env: operate(shopify_variant_ids=[env.variant()], batch_size=0),
        StoqConfigError,
        r"batch_size",
        r"must be a positive integer",
    ),
    Case(
        "operator-batch-size-huge",
        lambda env: operate(shopify_variant_ids=[env.variant()], batch_size=5000),
        StoqConfigError,
        r"batch_size",
        r"must be at most 1000",
    ),
    Case(
        "operator-inventory-negative-units",
        lambda env: operate(inventory={str(env.variant()): -3}),
        StoqConfigError,
        r"inventory\[\d+\]",
        r"must be a whole number of units >= 0",
    ),
    Case(
        "operator-partial-failure-policy",
        lambda env: operate(intent_ids=["a"], on_partial_failure="ignore"),
        StoqConfigError,
        r"on_partial_failure",
        r"must be one of fail, warn",
    ),
    Case(
        "operator-conn-missing",
        lambda env: operate(stoq_conn_id=MISSING_CONN, shopify_variant_ids=[env.variant()]),
        StoqConfigError,
        re.escape(repr(MISSING_CONN)),
        r"Create it with conn type 'stoq'",
    ),
    Case(
        "operator-conn-blank-key",
        lambda env: operate(shopify_variant_ids=[env.variant()]),
        StoqConfigError,
        r"no API key",
        r"Put the store's STOQ API key",
        conn={"password": None},
    ),
    Case(
        "operator-conn-http-to-remote-host",
        lambda env: operate(intent_ids=env.pending_ids()),
        StoqConfigError,
        r"http://",
        r"Use https://",
        conn={"host": "http://stoq.internal/api/v1/external"},
    ),
    Case(
        "operator-wrong-key-401",
        lambda env: operate(shopify_variant_ids=[env.variant()]),
        StoqAuthError,
        r"401",
        r"Check the password",
        "sandbox",
        conn={"password": WRONG_KEY},
    ),
    Case(
        "operator-unknown-intent",
        lambda env: operate(intent_ids=[UNKNOWN_ID]),
        StoqNotifyPartialFailure,
        r"1 of 1 intents failed.*Intent not found",
        r"a retry sends only what is still pending",
        "sandbox",
    ),
    Case(
        "operator-list-wrong-shape",
        lambda env: operate(shopify_variant_ids=[env.variant()]),
        StoqProtocolError,
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "list_intents"),
    ),
    Case(
        "operator-bulk-notify-non-json-200",
        lambda env: operate(intent_ids=env.pending_ids(2)),
        StoqNotifyPartialFailure,
        r"answered 200 .*not JSON",
        r"run the notify again",
        "sandbox",
        faults=always("garbage", "bulk_notify"),
    ),
]

SENSOR_CASES = [
    Case(
        "sensor-no-selector",
        lambda env: poke(),
        StoqConfigError,
        r"shopify_variant_ids, shopify_product_ids",
        r"needs exactly one of",
    ),
    Case(
        "sensor-two-selectors",
        lambda env: poke(shopify_variant_ids=[1], shopify_product_ids=[2]),
        StoqConfigError,
        r"got 2: shopify_variant_ids, shopify_product_ids",
        r"needs exactly one of",
    ),
    Case(
        "sensor-variant-ids-non-numeric-jinja",
        lambda env: poke(shopify_variant_ids="40000000000, abc"),
        StoqConfigError,
        r"shopify_variant_ids",
        r"must be a positive integer",
    ),
    Case(
        "sensor-min-pending-zero",
        lambda env: poke(shopify_variant_ids=[env.variant()], min_pending=0),
        StoqConfigError,
        r"min_pending",
        r"must be a positive integer",
    ),
    Case(
        "sensor-intent-types-unknown",
        lambda env: poke(shopify_variant_ids=[env.variant()], intent_types=["promo"]),
        StoqConfigError,
        r"intent_types",
        r"must name one or more of restock, wishlist_reminder",
    ),
    Case(
        "sensor-mode-unknown",
        lambda env: StoqPendingIntentsSensor(task_id="w", shopify_variant_ids=[1], mode="sometimes"),
        ValueError,
        r"mode",
        r"must be one of",
    ),
    Case(
        "sensor-deferrable-execute-empty-ids",
        lambda env: StoqPendingIntentsSensor(task_id="w", shopify_product_ids=[], deferrable=True).execute({}),
        StoqConfigError,
        r"shopify_product_ids is empty",
        r"give at least one",
    ),
    Case(
        "sensor-conn-missing",
        lambda env: poke(stoq_conn_id=MISSING_CONN, shopify_variant_ids=[env.variant()]),
        StoqConfigError,
        re.escape(repr(MISSING_CONN)),
        r"Create it with conn type 'stoq'",
    ),
    Case(
        "sensor-wrong-key-401",
        lambda env: poke(shopify_variant_ids=[env.variant()]),
        StoqAuthError,
        r"401",
        r"Check the password",
        "sandbox",
        conn={"password": WRONG_KEY},
    ),
    Case(
        "sensor-list-wrong-shape",
        lambda env: poke(shopify_variant_ids=[env.variant()]),
        StoqProtocolError,
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "list_intents"),
    ),
    Case(
        "sensor-list-html-502",
        lambda env: poke(shopify_product_ids=[8000000000]),
        StoqServerError,
        r"502 with an HTML error page",
        r"run the task again later",
        "sandbox",
        faults=always("html502", "list_intents"),
    ),
    Case(
        "sensor-list-page-larger-than-asked",
        lambda env: poke(shopify_variant_ids=[env.variant()]),
        StoqProtocolError,
        r"intents on a page of 500",
        r"Report this to STOQ support",
        "sandbox",
        faults=always("oversize", "list_intents"),
    ),
]

RAISING_CASES = HOOK_CASES + ASYNC_CASES + OPERATOR_CASES + SENSOR_CASES


@pytest.fixture
def env(stoq_sandbox: SandboxServer, set_stoq_connection: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> Env:
    return Env(stoq_sandbox, monkeypatch, set_stoq_connection)


def _prepare(env: Env, case: Case) -> None:
    env.connect(**case.conn)
    if case.faults:
        env.sandbox.set_faults(**case.faults)


def _check_reach(env: Env, where: str) -> None:
    stats = env.sandbox.stats()
    reached = stats["total_requests"] + sum(stats["faults"].values())
    if where == "sandbox":
        assert reached > 0, "the case was meant to reach the sandbox"
    else:
        assert reached == 0, f"{reached} request(s) reached the sandbox: {stats['requests']} {stats['faults']}"


@pytest.mark.parametrize("case", [_param(case) for case in RAISING_CASES])
def test_bad_input_fails_with_one_clear_error(env: Env, case: Case) -> None:
    _prepare(env, case)

    with pytest.raises(case.error) as info:
        result = case.run(env)
        if hasattr(result, "__next__"):  # a lazy listing: its first page is where the error shows
            list(result)

    exc = info.value
    assert type(exc) is case.error, type(exc)
    assert isinstance(exc, StoqError) or case.error is ValueError  # a sensor argument Airflow checks too
    check_message(env, str(exc), case.names, case.hint)
    clients = [type(e).__module__ for e in _chain(exc) if type(e).__module__.split(".")[0] in HTTP_CLIENTS]
    assert not clients, f"the error chains to an HTTP client's exception: {clients}"
    assert env.sandbox.ledger()["total_sends"] == 0
    _check_reach(env, case.where)


def test_the_matrix_is_wide() -> None:
    ids = [case.id for case in RAISING_CASES + NOTIFIER_CASES] + [case[0] for case in TOLERATED_CASES]
    assert len(ids) == len(set(ids)) and len(RAISING_CASES) >= 40
    for prefix in ("hook-", "async-", "operator-", "sensor-", "notifier-"):
        assert any(i.startswith(prefix) for i in ids), prefix


# ------------------------------------------------------------------------- the notifier, as a callback


@dataclass(frozen=True)
class NotifierCase:
    """A notifier that must log one clear error, and not raise, when called as a callback."""

    id: str
    kwargs: Callable[[Env], dict[str, Any]]
    names: str
    hint: str
    where: str = "before"
    conn: Mapping[str, Any] = field(default_factory=dict)
    faults: Mapping[str, Any] | None = None


NOTIFIER_CASES = [
    # Literal mistakes fail when the DAG is parsed (tests/integration/test_parse_time.py); these come from
    # templates, known only when the callback runs.
    NotifierCase(
        "notifier-variant-ids-non-numeric",
        lambda env: {"shopify_variant_ids": "{{ '12, twelve' }}"},
        r"shopify_variant_ids",
        r"must be a positive integer",
    ),
    NotifierCase(
        "notifier-batch-size-huge",
        lambda env: {"shopify_variant_ids": [env.variant()], "batch_size": "{{ 100000 }}"},
        r"batch_size",
        r"must be at most 1000",
    ),
    NotifierCase(
        "notifier-template-renders-none",
        lambda env: {"shopify_variant_ids": "{{ None }}"},
        r"shopify_variant_ids came from the template",
        r"which produced 'None' once rendered",
    ),
    NotifierCase(
        "notifier-intent-types-template-empty",
        lambda env: {"shopify_variant_ids": [env.variant()], "intent_types": "{{ '' }}"},
        r"intent_types",
        r"must be a non-empty list of intent types",
    ),
    NotifierCase(
        "notifier-conn-missing",
        lambda env: {"stoq_conn_id": MISSING_CONN, "intent_ids": ["a"]},
        re.escape(repr(MISSING_CONN)),
        r"Create it with conn type 'stoq'",
    ),
    NotifierCase(
        "notifier-conn-http-to-remote-host",
        lambda env: {"intent_ids": ["a"]},
        r"http://",
        r"Use https://",
        conn={"host": "http://192.0.2.10/api/v1/external"},
    ),
    NotifierCase(
        "notifier-wrong-key-401",
        lambda env: {"shopify_variant_ids": [env.variant()]},
        r"401",
        r"Check the password",
        "sandbox",
        conn={"password": WRONG_KEY},
    ),
    NotifierCase(
        "notifier-list-wrong-shape",
        lambda env: {"shopify_product_ids": [8000000000]},
        r"list_intents",
        r"upgrade airflow-provider-stoq or report it",
        "sandbox",
        faults=always("wrong_shape", "list_intents"),
    ),
    NotifierCase(
        "notifier-unknown-intent",
        lambda env: {"intent_ids": [UNKNOWN_ID]},
        r"Intent not found",
        r"a retry sends only what is still pending",
        "sandbox",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in NOTIFIER_CASES])
def test_notifier_logs_one_clear_error_and_does_not_raise(
    env: Env, case: NotifierCase, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    env.connect(**case.conn)
    if case.faults:
        env.sandbox.set_faults(**case.faults)
    notifier = StoqNotifier(**case.kwargs(env))

    notifier({"ti": _TI()})  # as Airflow calls a callback: must not raise

    out = capsys.readouterr().out
    print(out, end="")  # hand the output back to the leak guard
    lines = [line for line in (caplog.text + "\n" + out).splitlines() if "STOQ restock alerts failed" in line]
    assert lines, f"no error was logged:\n{caplog.text}\n{out}"
    message = lines[-1].split("STOQ restock alerts failed", 1)[1]
    assert "error" in lines[-1].lower()
    check_message(env, message, case.names, case.hint)
    assert "Traceback" not in caplog.text + out
    assert env.sandbox.ledger()["total_sends"] == 0
    _check_reach(env, case.where)


# -------------------------------------------------------------- unknown extra fields: must be tolerated


def _tolerate_hook_list(env: Env) -> None:
    assert sorted(i["id"] for i in StoqHook().list_intents()) == sorted(i["id"] for i in env.sandbox.intents())


def _tolerate_hook_get(env: Env) -> None:
    iid = env.pending_ids(1)[0]
    intent = StoqHook().get_intent(iid)
    assert intent["id"] == iid and "sandbox_unknown_field" in intent


def _tolerate_hook_demand(env: Env) -> None:
    items = list(StoqHook().products_in_demand())
    assert len(items) == 5 and all(isinstance(item["pending"], int) for item in items)


def _tolerate_hook_bulk_notify(env: Env) -> None:
    ids = env.pending_ids(3)
    result = StoqHook().bulk_notify_intents(ids)
    assert result.ok and sorted(result.sent) == sorted(ids) == sorted(env.sandbox.ledger()["sends"])


def _tolerate_hook_notify(env: Env) -> None:
    iid = env.pending_ids(1)[0]
    assert StoqHook().notify_intent(iid) == {"success": True, "intent_id": iid, "already_notified": False}
    assert env.sandbox.ledger()["sends"] == {iid: 1}


def _tolerate_async_list(env: Env) -> None:
    assert sorted(i["id"] for i in alist()) == sorted(i["id"] for i in env.sandbox.intents())


def _tolerate_sensor_poke(env: Env) -> None:
    variant = env.variant()
    waiting = sum(1 for i in env.eligible() if i["shopify_variant_id"] == variant)
    result = poke(shopify_variant_ids=[variant], min_pending=waiting)  # everyone counted, extra fields and all
    assert result.is_done and result.xcom_value == {"pending": {str(variant): waiting}, "total": waiting}


def _tolerate_operator(env: Env) -> None:
    variant = env.variant()
    expected = {i["id"] for i in env.eligible() if i["shopify_variant_id"] == variant}
    summary = operate(shopify_variant_ids=[variant])
    assert summary["failed"] == 0 and summary["notified"] == len(expected) > 0
    assert set(env.sandbox.ledger()["sends"]) == expected


def _tolerate_notifier(env: Env) -> None:
    notifier = StoqNotifier(shopify_variant_ids=[env.variant()])
    notifier({"ti": _TI()})
    assert notifier.summary is not None and notifier.summary["notified"] == env.sandbox.ledger()["total_sends"] > 0


#: ``(id, check, endpoints whose answers carry extra fields)``.
TOLERATED_CASES: list[tuple[str, Callable[[Env], None], tuple[str, ...]]] = [
    ("hook-list-extra-fields", _tolerate_hook_list, ("list_intents",)),
    ("hook-get-extra-fields", _tolerate_hook_get, ("get_intent",)),
    ("hook-demand-extra-fields", _tolerate_hook_demand, ("products_in_demand",)),
    ("hook-bulk-notify-extra-fields", _tolerate_hook_bulk_notify, ("bulk_notify",)),
    ("hook-notify-extra-fields", _tolerate_hook_notify, ("notify_intent",)),
    ("async-list-extra-fields", _tolerate_async_list, ("list_intents",)),
    ("sensor-poke-extra-fields", _tolerate_sensor_poke, ("list_intents",)),
    ("operator-extra-fields", _tolerate_operator, ("list_intents", "bulk_notify")),
    ("notifier-extra-fields", _tolerate_notifier, ("list_intents", "bulk_notify")),
]


@pytest.mark.parametrize(("check", "endpoints"), [pytest.param(c, e, id=i) for i, c, e in TOLERATED_CASES])
def test_unknown_extra_fields_are_tolerated(env: Env, check: Callable[[Env], None], endpoints: tuple[str, ...]) -> None:
    env.connect()
    env.sandbox.set_faults(**always("extra_fields", *endpoints))
    check(env)
    assert env.sandbox.stats()["faults"].get("extra_fields", 0) > 0, "the answers really carried extra fields"
    assert env.sandbox.ledger()["duplicates"] == []
