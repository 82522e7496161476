"""Shared fixtures: a project-local Airflow home, the STOQ sandbox, and a connection pointing at it."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator

# Airflow reads its configuration on first import: point it at a throw-away home before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="stoq-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# One Fernet key for this process and the `airflow` commands it starts: they share the database, where Airflow
# encrypts trigger arguments (an asset watcher's trigger is stored when a DAG is parsed).
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())

import pytest  # noqa: E402

from tests.support.helpers import FAST_EXTRAS  # noqa: E402

# The sandbox fixtures, and the in-process Airflow database of tests.support.airflow_db.
pytest_plugins = ["stoq_provider.sandbox.pytest_plugin", "tests.support.airflow_db"]


@pytest.fixture(autouse=True)
def _fresh_rate_budgets() -> Iterator[None]:
    """Each test starts with no remembered rate budget or demand bound (the sandbox is reset between tests too)."""
    from stoq_provider.api import ratelimit
    from stoq_provider.restock.waiting import shared_bounds

    ratelimit._registry.clear()
    shared_bounds.clear()
    yield
    ratelimit._registry.clear()
    shared_bounds.clear()


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
def _secret_guard(
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Fail any test that lets the API key or a seeded customer's e-mail or phone out (see ``secret_guard``).

    Checked: log records at DEBUG, stdout/stderr (structlog), Airflow exception messages, ``repr`` of the
    provider's hooks, operators, sensors, triggers and notifiers, XComs, rendered template fields, trigger and
    deferral kwargs and run conf in the Airflow database, and task log files.
    """
    import sys

    from stoq_provider.sandbox.constants import DEFAULT_API_KEY
    from tests.support.secret_guard import SecretGuard

    caplog.set_level("DEBUG")
    guard = SecretGuard(monkeypatch)
    yield
    out, err = capsys.readouterr()
    # Hand the output back to pytest so that it is still shown for a failing test.
    print(out, end="")
    print(err, end="", file=sys.stderr)
    pii = {"api_key": DEFAULT_API_KEY, "emails": [], "phones": []}
    if {"stoq_sandbox", "stoq_sandbox_server"} & set(request.fixturenames):
        pii = request.getfixturevalue("stoq_sandbox_server").pii()
    guard.check(
        pii,
        {
            "logs": [caplog.text],
            "stdout/stderr": [out, err],
            "exception messages": guard.exception_messages,
            "repr of hooks/operators": guard.reprs(),
            "Airflow database (XCom, rendered fields, triggers, conf)": guard.airflow_db_text(),
            "task log files": guard.log_files_text(),
        },
    )


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Migrate the test Airflow home's SQLite database once per session (about 3 s); returns AIRFLOW_HOME."""
    import subprocess
    import sys
    from pathlib import Path

    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=300)
    subprocess.run([airflow, "pools", "set", "stoq", "4", "STOQ tasks"], check=True, capture_output=True, timeout=120)
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture
def dags_test(airflow_db, stoq_sandbox):
    """Run ``airflow dags test DAG_ID`` on the example DAGs in a subprocess, against the sandbox."""
    import subprocess
    import sys
    from pathlib import Path

    airflow = str(Path(sys.executable).with_name("airflow"))
    from tests.support.paths import EXAMPLE_DAGS

    dags = str(EXAMPLE_DAGS)

    def run(
        dag_id: str,
        conf: dict | None = None,
        *,
        check: bool = True,
        folder: str | None = None,
        environment: dict[str, str] | None = None,
        **extra: object,
    ):
        env = dict(os.environ)
        env.update(
            AIRFLOW__CORE__DAGS_FOLDER=folder or dags,
            AIRFLOW_CONN_STOQ_DEFAULT=stoq_sandbox.connection_json(**{**FAST_EXTRAS, **extra}),
            STOQ_EXAMPLE_WAIT_SECONDS="4",  # the core example's wait for customers, shortened
        )
        env.update(environment or {})
        args = [airflow, "dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf else [])
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        pii = stoq_sandbox.pii()
        output = done.stdout + done.stderr
        leaked = [n for n in (pii["api_key"], *pii["emails"], *pii["phones"]) if n and n in output]
        assert not leaked, f"{len(leaked)} secret(s) or contact detail(s) reached the output of {dag_id}"
        if check and (done.returncode or "state=success" not in done.stdout + done.stderr):
            raise AssertionError(f"airflow dags test {dag_id} failed:\n{(done.stdout + done.stderr)[-4000:]}")
        return done

    return run
