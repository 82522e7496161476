"""Browser tests of the connection form (marker ``ui``): a real Airflow API server/UI driven by Chromium.

They need Debian's ``chromium`` and the ``ui`` extra (Playwright's Python package, which drives the system
browser: no browser is ever downloaded). ``make test-ui`` installs both and runs ``pytest -m ui``; every other
run leaves them out (``addopts`` in pyproject.toml).

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
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.deployment import airflow_env, free_port, stop_process_group

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
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Nothing from the suite's own Airflow settings (tests/conftest.py points AIRFLOW_HOME elsewhere).
    env = airflow_env(home, home / "dags", url)
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
        stop_process_group(proc)


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
