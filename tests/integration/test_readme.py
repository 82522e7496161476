"""Every Python snippet of the README runs as written, against the sandbox, with real Airflow.

Each ```python block is written to a file of a fresh DAGs folder and run as Python; the DAGs it defines are
then parsed by Airflow's DagBag and run with ``dag.test()`` (triggers inline), and an operator class it defines
is run in a one-task DAG. The connection ``stoq_default`` (and ``STOQ_API_KEY``/``STOQ_BASE_URL`` for the
Airflow-free client) point at the sandbox, whose seeded data has customers waiting on the variants the
snippets name.
"""

from __future__ import annotations

import ast
import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.airflow_compat import dagbag_class
from tests.support.airflow_db import ensure_airflow_db
from tests.support.paths import ROOT

README = ROOT / "README.md"


@dataclass(frozen=True)
class Snippet:
    line: int
    code: str

    @property
    def operator_classes(self) -> list[str]:
        """Operator classes the snippet defines (to run them too)."""
        tree = ast.parse(self.code)
        return [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "BaseOperator" for b in node.bases)
        ]


def _snippets() -> list[Snippet]:
    text = README.read_text()
    return [
        Snippet(text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)
    ]


SNIPPETS = _snippets()


def test_the_readme_has_its_python_snippets():
    assert len(SNIPPETS) == 12, [s.line for s in SNIPPETS]


def _run_dags(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Parse ``folder`` as Airflow would and run each DAG with ``dag.test()``; return their final states."""
    from airflow import settings

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
    bag = dagbag_class()(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    states = {}
    for dag_id in bag.dag_ids:
        run = bag.get_dag(dag_id).test()
        states[dag_id] = run.state.value if hasattr(run.state, "value") else str(run.state)
    return states


@pytest.mark.parametrize("snippet", [pytest.param(s, id=f"README.md:{s.line}") for s in SNIPPETS])
def test_the_readme_snippet_runs_as_written(
    snippet: Snippet, stoq_sandbox, set_stoq_connection, airflow_db_inprocess, monkeypatch, tmp_path, capsys
):
    set_stoq_connection()
    monkeypatch.setenv("STOQ_API_KEY", stoq_sandbox.api_key)
    monkeypatch.setenv("STOQ_BASE_URL", stoq_sandbox.base_url)
    ensure_airflow_db(pools={"stoq": 4})
    folder = tmp_path / "dags"
    folder.mkdir()
    path = folder / f"readme_line_{snippet.line}.py"
    code = snippet.code
    for name in snippet.operator_classes:
        code += (
            "\n\nimport pendulum as _pendulum\nfrom airflow.sdk import DAG as _DAG\n\n"
            f"with _DAG('readme_{name}', schedule=None, start_date=_pendulum.datetime(2026, 1, 1, tz='UTC')):\n"
            f"    {name}(task_id='run')\n"
        )
    path.write_text(code)

    runpy.run_path(str(path), run_name=f"readme_line_{snippet.line}")  # as written: it runs
    states = _run_dags(folder, monkeypatch) if "dag" in code.lower() and "airflow" in code else {}

    out = capsys.readouterr().out
    print(out, end="")  # hand the output back to the leak guard
    assert all(state == "success" for state in states.values()), states
    if "@dag" in snippet.code or snippet.operator_classes:
        assert states, "the snippet's DAG was not found"
