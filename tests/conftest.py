"""Shared fixtures: a project-local Airflow home, the STOQ sandbox, and a connection pointing at it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator

# Airflow reads its configuration on first import: point it at a throw-away home before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="stoq-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import pytest  # noqa: E402

pytest_plugins = ["stoq_provider.sandbox.pytest_plugin"]

#: Connection extras that keep failure tests quick: short timeouts and backoff, few attempts.
FAST_EXTRAS = {
    "timeout": 2,
    "connect_timeout": 2,
    "max_retries": 4,
    "retry_max_time": 15,
    "retry_wait_initial": 0.05,
    "retry_wait_max": 0.2,
    "max_rate_limit_wait": 10,
}


@pytest.fixture(autouse=True)
def _fresh_rate_budgets() -> Iterator[None]:
    """Each test starts with no remembered rate budget (the sandbox is reset between tests too)."""
    from stoq_provider.utils import ratelimit

    ratelimit._registry.clear()
    yield
    ratelimit._registry.clear()


@pytest.fixture
def set_stoq_connection(monkeypatch: pytest.MonkeyPatch, stoq_sandbox):
    """Return a function that (re)defines ``stoq_default`` against the sandbox with the given extras."""

    def define(conn_id: str = "stoq_default", **extra: object) -> None:
        payload = json.loads(stoq_sandbox.connection_json(**{**FAST_EXTRAS, **extra}))
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))

    return define


@pytest.fixture
def hook(set_stoq_connection):
    """A ``StoqHook`` on ``stoq_default``, pointed at a freshly reset sandbox."""
    from stoq_provider.hooks.stoq import StoqHook

    set_stoq_connection()
    return StoqHook()


@pytest.fixture(autouse=True)
def _no_secret_in_logs(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[None]:
    """Fail any test whose logs or output contain the sandbox API key or a seeded e-mail or phone.

    Airflow's hook loggers write through structlog to stdout, and libraries log through ``logging``:
    both are checked, at DEBUG.
    """
    caplog.set_level("DEBUG")
    yield
    out, err = capsys.readouterr()
    # Hand the output back to pytest so that it is still shown for a failing test.
    print(out, end="")
    print(err, end="", file=__import__("sys").stderr)
    if "stoq_sandbox" not in request.fixturenames:
        return
    server = request.getfixturevalue("stoq_sandbox_server")
    pii = server.pii()
    needles = [pii["api_key"], *pii["emails"], *pii["phones"]]
    text = "\n".join((caplog.text, out, err))
    leaked = [needle for needle in needles if needle and needle in text]
    assert not leaked, f"{len(leaked)} secret(s) or contact detail(s) reached the logs"
