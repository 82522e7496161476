"""Where things are in the repository, for tests anywhere under ``tests/``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "stoq_provider"
EXAMPLE_DAGS = ROOT / "example_dags"
#: DAG files written for the tests (run with ``dag.test()`` or ``airflow dags test``).
TEST_DAGS = ROOT / "tests" / "dags"
