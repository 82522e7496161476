"""A ready Airflow metadata database for in-process ``dag.test()`` runs, and readers of what a run left in it.

``tests/conftest.py`` points ``AIRFLOW_HOME`` at a temporary directory before Airflow is imported, so the
SQLite database lives there. :func:`ensure_airflow_db` creates its tables in this process (about 2 s, against
about 6 s for ``airflow db migrate`` in a subprocess) and is a no-op once they exist, whoever created them
(the ``airflow_db`` fixture of ``conftest.py`` included).

Its fixture is registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``); use it from a test
module::

    from tests.support.airflow_db import run_dag

    def test_something(airflow_db_inprocess, ...):
        run = run_dag("/path/to/dags", "my_dag")
        assert run.state("my_task") == "success"

``dag.test()`` in Airflow 3.3 finds the DAG through the ``dags-folder`` bundle, so the DAG must live in a file
of the folder given to :func:`run_dag`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Set once this process has the Airflow tables.
_READY: set[str] = set()


def ensure_airflow_db(pools: dict[str, int] | None = None) -> str:
    """Create the Airflow tables once per process (no-op if they exist); add ``pools``; return AIRFLOW_HOME."""
    if not _READY:
        from airflow.utils.db import _get_current_revision, initdb
        from airflow.utils.session import create_session

        with create_session() as session:
            exists = _get_current_revision(session)
        if not exists:
            initdb()
        _READY.add("tables")
    for name, slots in (pools or {}).items():
        from airflow.models.pool import Pool

        Pool.create_or_update_pool(name, slots, description=f"{name} (tests)", include_deferred=False)
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def airflow_db_inprocess() -> str:
    """Session fixture: the Airflow metadata DB is ready for ``dag.test()`` in this process."""
    return ensure_airflow_db()


@dataclass
class DagRunResult:
    """What one ``dag.test()`` run left in the metadata database."""

    dag_id: str
    run_id: str
    dag_state: str
    states: dict[str, str] = field(default_factory=dict)

    def state(self, task_id: str) -> str:
        return self.states[task_id]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """The task's XCom value, as a downstream task would read it."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(
                XComModel.get_many(run_id=self.run_id, key=key, dag_ids=self.dag_id, task_ids=task_id)
            ).first()
            return None if row is None else XComModel.deserialize_value(row)

    def reschedules(self, task_id: str) -> int:
        """How many times the task was rescheduled (``reschedule`` mode sensors)."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.taskreschedule import TaskReschedule
        from airflow.utils.session import create_session
        from sqlalchemy import func, select

        with create_session() as session:
            return session.scalar(
                select(func.count())
                .select_from(TaskReschedule)
                .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
                .where(TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id)
                .where(TaskInstance.task_id == task_id)
            )


def load_dag(folder: str | Path, dag_id: str) -> Any:
    """Import every DAG file of ``folder`` (as Airflow would) and return the DAG ``dag_id``."""
    from airflow.sdk import DAG

    for path in sorted(Path(folder).glob("*.py")):
        name = f"_test_dags_{path.stem}"
        module = sys.modules.get(name)
        if module is None or getattr(module, "__file__", None) != str(path):
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        for value in vars(module).values():
            if isinstance(value, DAG) and value.dag_id == dag_id:
                return value
    raise LookupError(f"no DAG {dag_id!r} in {folder}")


def run_dag(folder: str | Path, dag_id: str, monkeypatch: pytest.MonkeyPatch, **test_kwargs: Any) -> DagRunResult:
    """Run ``dag.test()`` in this process with ``folder`` as the DAGs folder; return the run's final states."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    ensure_airflow_db()
    from airflow import settings

    # The ``dags-folder`` bundle reads ``settings.DAGS_FOLDER``, computed when Airflow was first imported.
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
    dag = load_dag(folder, dag_id)
    run = dag.test(**test_kwargs)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
        states = {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}
    state = run.state.value if hasattr(run.state, "value") else str(run.state)
    return DagRunResult(dag_id=dag_id, run_id=run.run_id, dag_state=state, states=states)
