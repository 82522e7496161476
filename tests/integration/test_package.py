"""The built distributions: what the sdist and the wheel hold, and the wheel alone in a fresh virtualenv.

Marker ``package``: deselected by default (``addopts``) since it installs Airflow into a new virtualenv
(about a minute, from pip's cache). ``make package`` builds ``dist/`` with ``python -m build``, runs
``twine check --strict`` and then this module with ``STOQ_DIST_DIR=dist``; without that variable the module
builds the distributions itself into a temporary folder (``pytest -m package``).

The fresh virtualenv gets the wheel and the Airflow of this one, nothing from the source tree: every command
runs from a temporary folder, the sandbox is the wheel's ``python -m stoq_provider.sandbox``, and the DAG is a
copy of ``example_dags/example_stoq_restock.py`` run by that virtualenv's ``airflow dags test``.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import stoq_provider
from stoq_provider.sandbox import SandboxServer
from stoq_provider.sandbox.runners import LISTENING_LINE
from tests.support.paths import ROOT

pytestmark = pytest.mark.package

VERSION = stoq_provider.__version__
DIST_NAME = "airflow_provider_stoq"
URL_LABELS = {"Homepage", "Documentation", "Source", "Changelog", "Issues"}


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$STOQ_DIST_DIR`` (``make package``), or a fresh ``python -m build`` of the source tree."""
    given = os.environ.get("STOQ_DIST_DIR")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def _only(folder: Path, name: str) -> Path:
    path = folder / name
    assert path.is_file(), f"{name} is not in {folder}: {sorted(p.name for p in folder.iterdir())}"
    return path


@pytest.fixture(scope="module")
def wheel(dist_dir: Path) -> Path:
    return _only(dist_dir, f"{DIST_NAME}-{VERSION}-py3-none-any.whl")


@pytest.fixture(scope="module")
def sdist(dist_dir: Path) -> Path:
    return _only(dist_dir, f"{DIST_NAME}-{VERSION}.tar.gz")


def test_wheel_holds_the_package_typed_with_the_sandbox_and_nothing_else(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "stoq_provider/py.typed" in names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "stoq_provider").rglob("*.py")}
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
    assert {"stoq_provider/sandbox/__main__.py", "stoq_provider/sandbox/pytest_plugin.py"} <= names
    dist_info = f"{DIST_NAME}-{VERSION}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names
    stray = sorted(n for n in names if not n.startswith(("stoq_provider/", f"{dist_info}/")))
    assert stray == [], "only the package and its metadata belong in the wheel"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_wheel_metadata(wheel: Path):
    dist_info = f"{DIST_NAME}-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert metadata["Name"] == "airflow-provider-stoq"
    assert metadata["Version"] == VERSION == stoq_provider.get_provider_info()["versions"][0]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "Framework :: Apache Airflow :: Provider" in metadata.get_all("Classifier")
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert set(urls) == URL_LABELS
    assert all(url.startswith("https://") for url in urls.values())
    requires = metadata.get_all("Requires-Dist")
    assert "apache-airflow<4,>=3.1" in requires
    assert not any("pytest" in r and "extra" not in r for r in requires), "test tools are not runtime dependencies"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "[apache_airflow_provider]\nprovider_info = stoq_provider:get_provider_info" in entry_points


def test_sdist_holds_the_documents_the_typed_marker_and_the_sandbox(sdist: Path):
    prefix = f"{DIST_NAME}-{VERSION}/"
    with tarfile.open(sdist) as archive:
        names = {n[len(prefix) :] for n in archive.getnames() if n.startswith(prefix)}
    required = {"README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO", "stoq_provider/py.typed"}
    assert required <= names, f"missing from the sdist: {sorted(required - names)}"
    sandbox = {p.relative_to(ROOT).as_posix() for p in (ROOT / "stoq_provider").rglob("*.py")}
    assert sandbox <= names, f"missing from the sdist: {sorted(sandbox - names)}"
    examples = {p.relative_to(ROOT).as_posix() for p in (ROOT / "example_dags").glob("*.py")}
    assert examples <= names
    assert not any(n.startswith("tests/") for n in names), "the suite needs the whole checkout: none of it"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without Airflow settings, virtualenv or Python path of the test process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW") and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS"}
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with the wheel and this virtualenv's Airflow version installed; returns its bin/."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / "bin"
    airflow = importlib.metadata.version("apache-airflow")
    done = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
            f"apache-airflow=={airflow}",
        ],
        cwd=venv.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, f"pip install of the wheel failed:\n{done.stderr[-4000:]}"
    return bin_dir


def test_fresh_venv_imports_the_installed_wheel_not_the_source_tree(fresh_venv: Path, tmp_path: Path):
    code = (
        "import json, importlib.resources, stoq_provider, stoq_provider.sandbox.__main__; "
        "print(json.dumps([stoq_provider.__file__, stoq_provider.__version__, "
        "importlib.resources.files('stoq_provider').joinpath('py.typed').is_file()]))"
    )
    done = subprocess.run(
        [str(fresh_venv / "python"), "-c", code],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    path, version, typed = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(path).is_relative_to(fresh_venv.parent) and "site-packages" in path
    assert not Path(path).is_relative_to(ROOT)
    assert version == VERSION and typed is True


@pytest.fixture
def wheel_sandbox(fresh_venv: Path, tmp_path: Path) -> Iterator[SandboxServer]:
    """``python -m stoq_provider.sandbox`` of the fresh virtualenv; a ``SandboxServer`` reads its admin routes."""
    errors = tmp_path / "sandbox.stderr"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [
                str(fresh_venv / "python"),
                "-m",
                "stoq_provider.sandbox",
                "--port",
                "0",
                "--intents",
                "200",
                "--variants",
                "5",
            ],
            cwd=tmp_path,
            env=_clean_env(PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        start = LISTENING_LINE.format(base_url="")
        assert line.startswith(start), f"the wheel's sandbox did not start: {line!r} {errors.read_text()[-2000:]}"
        port = int(line[len(start) :].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        client = SandboxServer(port=port)  # never started: only its admin helpers are used
        client.health()
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_wheel_runs_the_core_example_dag_with_airflow(fresh_venv: Path, wheel_sandbox: SandboxServer, tmp_path: Path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "example_dags" / "example_stoq_restock.py", dags)
    connection = wheel_sandbox.connection_json(timeout=5, connect_timeout=5, max_retries=3, retry_max_time=15)
    env = _clean_env(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_STOQ_DEFAULT=connection,
        STOQ_EXAMPLE_WAIT_SECONDS="4",
    )

    def airflow(*args: str) -> str:
        done = subprocess.run(
            [str(fresh_venv / "airflow"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"`airflow {' '.join(args)}` failed:\n{output[-4000:]}"
        return output

    providers = json.loads(airflow("providers", "list", "-o", "json").strip().splitlines()[-1])
    assert {"package_name": "airflow-provider-stoq", "version": VERSION} in [
        {k: p[k] for k in ("package_name", "version")} for p in providers
    ]
    hooks = airflow("providers", "hooks", "-o", "json")
    assert '"stoq"' in hooks and "stoq_provider.hooks.stoq.StoqHook" in hooks

    variants = [40000000000, 40000000001]
    waiting = {
        i["id"]
        for i in wheel_sandbox.intents()
        if i["shopify_variant_id"] in variants
        and i["notified_at"] is None
        and i["type"] == "restock"
        and not (i["unsubscribed_at"] or i["customer_unsubscribed_at"] or i["blocked_at"])
    }
    airflow("db", "migrate")
    airflow("pools", "set", "stoq", "4", "STOQ tasks")
    output = airflow("dags", "test", "example_stoq_restock", "-c", json.dumps({"restocked_variant_ids": variants}))
    assert "state=success" in output
    ledger = wheel_sandbox.ledger()
    assert set(ledger["sends"]) == waiting and ledger["total_sends"] == len(waiting) > 0
    assert ledger["duplicates"] == []
    pii = wheel_sandbox.pii()
    leaked = [n for n in (pii["api_key"], *pii["emails"], *pii["phones"]) if n and n in output]
    assert not leaked, f"{len(leaked)} secret(s) or contact detail(s) reached the output of the DAG run"
