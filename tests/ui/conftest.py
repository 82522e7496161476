"""Browser tests of the connection form (marker ``ui``): a real Airflow API server/UI driven by Chromium.

They need Debian's ``chromium`` and the ``ui`` extra (Playwright's Python package, which drives the system
browser: no browser is ever downloaded). ``make test-ui`` installs both and runs ``pytest -m ui``; every other
run leaves them out (see :func:`pytest_collection_modifyitems`).

Fixtures:

* ``airflow_ui`` (module): ``airflow api-server`` on a free port of 127.0.0.1, with a throw-away
  ``AIRFLOW_HOME`` under pytest's temporary directory (SQLite, simple auth manager with everyone an admin, no
  login), migrated first; stopped (its whole process group) at the end, its log kept in that home.
* ``browser`` (module): headless Chromium (``STOQ_UI_CHROMIUM``, default ``/usr/bin/chromium``).
* ``screenshot_dir``: where the test writes its PNGs: ``STOQ_UI_SCREENSHOTS`` (``make test-ui`` passes
  ``docs/img``), else a temporary directory.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

#: Chromium's flags for this closed network: without the background-networking ones Chromium keeps dialling
#: Google services (refused here) and can stall; a fresh profile per run comes from Playwright itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ui: drives the Airflow UI in a real browser (Chromium + Playwright); left out unless the -m expression "
        "names it (make test-ui)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave ``ui`` tests out of every run whose ``-m`` expression does not mention ``ui``."""
    if "ui" in (config.getoption("markexpr", "") or ""):
        return
    dropped = [item for item in items if item.get_closest_marker("ui")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("ui")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AirflowUI:
    """A running ``airflow api-server``: its URL, home, environment and log."""

    url: str
    home: Path
    env: dict[str, str]
    log: Path

    def run(self, *cmd: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``cmd`` against this home (plus ``env``); its output is captured, never shown."""
        return subprocess.run(
            cmd, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
        )


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowUI]:
    home = tmp_path_factory.mktemp("airflow-ui-home")
    (home / "dags").mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # Nothing from the suite's own Airflow settings (tests/conftest.py points AIRFLOW_HOME elsewhere).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__AUTH_MANAGER=SIMPLE_AUTH_MANAGER,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__API__BASE_URL=url,
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(16),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrated = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert migrated.returncode == 0, f"airflow db migrate failed:\n{(migrated.stdout + migrated.stderr)[-3000:]}"

    log = home / "api-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--apps", "core"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that the finalizer ends uvicorn's children too
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"airflow api-server exited ({proc.returncode}):\n{_tail(log)}"
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"airflow api-server not healthy after 180 s:\n{_tail(log)}"
            time.sleep(1)
        yield AirflowUI(url=url, home=home, env=env, log=log)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL if it is still there after 20 s."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install -e '.[ui]' (make test-ui does it)")
    chromium = os.environ.get("STOQ_UI_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        pytest.fail(f"No Chromium at {chromium}: apt-get install chromium (make test-ui does it)")
    with sync_playwright() as playwright:
        # executable_path: the system browser; never `playwright install` (no downloads here).
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("STOQ_UI_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
