"""The secret and PII guard used by every test (see ``tests/conftest.py``).

It collects what a test produced and fails the test if the API key, or any e-mail address or phone number of
the sandbox's seeded customers, appears in any of it:

* every log record (``logging`` at DEBUG, through ``caplog``) and everything written to stdout/stderr
  (Airflow's structlog output goes there), exception text and tracebacks included;
* the message of every Airflow exception created during the test (``StoqError`` and its subclasses included),
  raised or caught;
* ``repr()`` of every STOQ hook and trigger built, and every operator, sensor and notifier run, during the test;
* what DAG runs left in the Airflow metadata database: XCom values, rendered template fields, trigger
  arguments, deferral kwargs and DAG run conf (in-process ``dag.test()`` and ``airflow dags test`` alike);
* the task log files under ``$AIRFLOW_HOME/logs`` written during the test.

The needles are every API key a connection was built with during the test (at least 8 characters), the
sandbox's own key, and the seeded contact data the sandbox reports through ``/_sandbox/pii``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\d{7,}")

#: Where instances are recorded for the ``repr`` check: (module, class, method). Plain classes are recorded
#: when built; operators, sensors and notifiers when they run, so that Airflow's operator metaclass (which
#: reads ``__init__``'s signature and wraps it) is left untouched.
WATCHED_METHODS = (
    ("stoq_provider.hooks.stoq", "StoqHook", "__init__"),
    ("stoq_provider.hooks.stoq_async", "StoqAsyncHook", "__init__"),
    ("stoq_provider.triggers.intents", "StoqPendingIntentsTrigger", "__init__"),
    ("stoq_provider.operators.notify", "StoqNotifyOperator", "execute"),
    ("stoq_provider.sensors.intents", "StoqPendingIntentsSensor", "poke"),
    ("stoq_provider.sensors.intents", "StoqPendingIntentsSensor", "execute_complete"),
    ("stoq_provider.notifications.stoq", "StoqNotifier", "notify"),
)


class SecretGuard:
    """Collects one test's output; :meth:`check` fails the test on any leak."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = time.time()
        self.keys: set[str] = set()
        self.exception_messages: list[str] = []
        self.objects: list[Any] = []
        self._watch(monkeypatch)

    # ------------------------------------------------------------------ collection

    def _watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib

        from airflow.exceptions import AirflowException

        from stoq_provider.api.settings import StoqSettings

        guard = self
        original_init = AirflowException.__init__

        def recording_init(exc: BaseException, *args: Any, **kwargs: Any) -> None:
            original_init(exc, *args, **kwargs)
            guard.exception_messages.append(" ".join(str(a) for a in args))

        monkeypatch.setattr(AirflowException, "__init__", recording_init)

        from_connection = StoqSettings.from_connection.__func__  # type: ignore[attr-defined]

        def recording_from_connection(cls: type, conn: Any) -> Any:
            password = (getattr(conn, "password", None) or "").strip()
            if len(password) >= 8:
                guard.keys.add(password)
            return from_connection(cls, conn)

        monkeypatch.setattr(StoqSettings, "from_connection", classmethod(recording_from_connection))

        for module_name, class_name, method in WATCHED_METHODS:
            cls = getattr(importlib.import_module(module_name), class_name)
            monkeypatch.setattr(cls, method, self._recording(vars(cls)[method]))

    def _recording(self, method: Any) -> Any:
        import functools

        guard = self

        @functools.wraps(method)
        def recording(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if not any(seen is obj for seen in guard.objects):
                guard.objects.append(obj)
            return method(obj, *args, **kwargs)

        return recording

    # ------------------------------------------------------------------ sources

    def reprs(self) -> list[str]:
        out = []
        for obj in self.objects:
            try:
                out.append(repr(obj))
            except Exception as exc:  # a half-built object: its repr failing is not a leak
                out.append(f"<repr failed: {type(exc).__name__}>")
        return out

    def airflow_db_text(self) -> list[str]:
        """XComs, rendered fields, trigger kwargs, deferral kwargs and run conf, if a DAG ran in this test."""
        home = Path(os.environ.get("AIRFLOW_HOME", ""))
        databases = [p for p in home.glob("*.db") if p.stat().st_mtime >= self.started - 1]
        if not databases:
            return []
        import sqlite3

        texts: list[str] = []
        queries = {
            "xcom": "SELECT value FROM xcom",
            "rendered_task_instance_fields": "SELECT rendered_fields FROM rendered_task_instance_fields",
            "task_instance": "SELECT next_kwargs FROM task_instance",
            "trigger": "SELECT kwargs FROM trigger",
            "dag_run": "SELECT conf FROM dag_run",
        }
        for path in databases:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                for table, query in queries.items():
                    if table in tables:
                        texts.extend(_as_text(row[0]) for row in db.execute(query))
        texts.extend(self._decrypted_trigger_kwargs())
        return texts

    @staticmethod
    def _decrypted_trigger_kwargs() -> list[str]:
        """Trigger kwargs are stored encrypted; read them through the model as the triggerer would."""
        import sys

        if "airflow.models.trigger" not in sys.modules:
            return []
        from airflow.models.trigger import Trigger
        from airflow.utils.session import create_session

        with create_session() as session:
            return [repr(row.kwargs) for row in session.query(Trigger).all()]

    def log_files_text(self) -> list[str]:
        logs = Path(os.environ.get("AIRFLOW_HOME", "")) / "logs"
        if not logs.is_dir():
            return []
        return [
            path.read_text(errors="replace")
            for path in logs.rglob("*")
            if path.is_file() and path.stat().st_mtime >= self.started - 1
        ]

    # ------------------------------------------------------------------ check

    def check(self, pii: dict[str, Any] | None, sources: dict[str, Iterable[str]]) -> None:
        keys = set(self.keys)
        emails: set[str] = set()
        phones: set[str] = set()
        if pii:
            if pii.get("api_key"):
                keys.add(pii["api_key"])
            emails = {e.lower() for e in pii.get("emails", ())}
            phones = {re.sub(r"\D", "", p) for p in pii.get("phones", ())}
        leaks: list[str] = []
        for name, texts in sources.items():
            for text in texts:
                found = leaks_in(text, keys=keys, emails=emails, phones=phones)
                if found:
                    leaks.append(f"{name}: {', '.join(sorted(found))}")
                    break
        assert not leaks, "secret or customer contact data leaked into: " + "; ".join(leaks)


def leaks_in(text: str, *, keys: set[str], emails: set[str], phones: set[str]) -> set[str]:
    """The kinds of needles found in ``text`` (never the needles themselves, so the report does not leak)."""
    found = set()
    if any(key in text for key in keys):
        found.add("API key")
    if emails and any(m.group(0).lower() in emails for m in _EMAIL.finditer(text)):
        found.add("customer e-mail")
    if phones and any(m.group(0) in phones for m in _DIGITS.finditer(text)):
        found.add("customer phone")
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)
