"""What the sandbox tells a new user when it starts, taken at its word: the printed connection lines, pasted
into a shell, make ``airflow connections test`` succeed; ``GET /_sandbox`` lists the admin routes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stoq_provider.sandbox.constants import DEFAULT_API_KEY
from stoq_provider.sandbox.runners import LISTENING_LINE
from tests.support.paths import ROOT

#: The lines the command prints after the ``listening on`` line.
_BANNER_LINES = 10


@pytest.fixture(scope="module")
def banner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The lines ``python -m stoq_provider.sandbox`` prints, while it runs."""
    args = ["--port", "0", "--intents", "30", "--budget", "120", "--window", "30", "--fault-rate", "0.1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "stoq_provider.sandbox", *args, "--faults", "error500", "--fault-seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        yield [process.stdout.readline().rstrip("\n") for _ in range(1 + _BANNER_LINES)]
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_the_banner_says_where_it_listens_its_key_budget_and_faults(banner):
    listening, *rest = banner
    assert listening.startswith(LISTENING_LINE.format(base_url="http://127.0.0.1:"))
    text = "\n".join(rest)
    assert DEFAULT_API_KEY in text and "X-Auth-Token" in text
    assert "120 points per 30 s" in text and "30 intents" in text
    assert "10% of API requests on every endpoint: error500 (seed 3)" in text
    assert f"{listening.rsplit(' ', 1)[1].removesuffix('/api/v1/external')}/_sandbox" in text


def test_each_printed_connection_line_works_as_pasted(banner, tmp_path: Path):
    exports = [line.strip() for line in banner if line.strip().startswith("export AIRFLOW_CONN_STOQ_DEFAULT=")]
    assert len(exports) == 2 and "stoq://http://" in exports[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    for line in exports:
        shell = f"{line}\nAIRFLOW__CORE__TEST_CONNECTION=Enabled airflow connections test stoq_default"
        done = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Connection success!" in done.stdout, (line, done.stdout, done.stderr[-2000:])
    origin = banner[0].rsplit(" ", 1)[1].removesuffix("/api/v1/external")
    answered = requests.get(f"{origin}/_sandbox/stats", timeout=10).json()["requests"]["list_intents"]
    assert answered.get("200", 0) >= 2, answered  # each test reached the sandbox with the printed key


def test_the_admin_index_lists_every_admin_route(banner):
    origin = banner[0].rsplit(" ", 1)[1].removesuffix("/api/v1/external")
    index = requests.get(f"{origin}/_sandbox", timeout=10).json()
    listed = {(route["method"], route["path"]) for route in index["admin_routes"]}
    for route in ("ledger", "stats", "intents", "catalog", "health", "config", "faults"):
        assert ("GET", f"/_sandbox/{route}") in listed
    for route in ("reset", "config", "faults", "outage", "intents"):
        assert ("POST", f"/_sandbox/{route}") in listed
    assert all(route["summary"] for route in index["admin_routes"])
    assert index["api"] == {"base_path": "/api/v1/external", "auth_header": "X-Auth-Token", "api_key": DEFAULT_API_KEY}
