"""A real Airflow deployment for the ``deploy`` smoke test: each component a separate process.

:class:`Deployment` lays out a throw-away ``AIRFLOW_HOME`` (SQLite, LocalExecutor, simple auth manager with
everyone an admin), migrates it, creates the ``stoq`` pool, and starts ``airflow api-server``, ``scheduler``,
``dag-processor`` and ``triggerer``, each in its own process group with its output in
``$AIRFLOW_HOME/logs/components/<name>.log``. All of them share one environment: the same home and database,
the same ``[api_auth] jwt_secret`` and ``[api] secret_key`` (so the components trust each other's tokens),
and ``[core] execution_api_server_url`` pointing at this API server's port (task workers report there).

:meth:`Deployment.stop` ends every process group (SIGTERM, then SIGKILL) and then makes sure that no process
with this home in its environment is left, whoever started it. :class:`RestClient` is a minimal client of
Airflow's public REST API (``/api/v2``) with a token from ``/auth/token``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests

COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def airflow_env(home: Path, dags: Path, url: str) -> dict[str, str]:
    """This process's environment minus every Airflow setting, plus a throw-away Airflow under ``home``.

    SQLite in ``home``, no example DAGs, the simple auth manager with everyone an admin (no login), the API
    server at ``url``, and fresh secrets shared by every component started with this environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__AUTH_MANAGER=SIMPLE_AUTH_MANAGER,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__API__BASE_URL=url,
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(16),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),  # >= 64 bytes for HS512
    )
    return env


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 20.0) -> bool:
    """End ``proc``'s whole process group, as a service manager would; True if it had to kill.

    SIGTERM goes to the component (the group's leader) first, which winds down its own children: the scheduler
    tells its LocalExecutor workers to stop. A worker signalled directly runs the scheduler's inherited handler
    and can wait forever for its siblings. Whatever is left of the group when the leader has exited (or after
    ``grace`` s) gets SIGTERM, then SIGKILL at the end of ``grace``.
    """
    deadline = time.monotonic() + grace
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    signal_group(proc.pid, signal.SIGTERM)
    # The leader may be gone while its children (executor workers, task supervisors) linger.
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = group_alive(proc.pid)
    if killed:
        signal_group(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    return killed


class DeploymentError(AssertionError):
    """A component did not come up, or a wait ran out."""


class Deployment:
    """One Airflow deployment under ``home``; see the module docstring."""

    def __init__(
        self, home: Path, dags: Iterable[Path], extra_env: dict[str, str], executor: str = "LocalExecutor"
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = home / "logs" / "components"
        self.dags = home / "dags"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.airflow = str(Path(sys.executable).with_name("airflow"))
        self.dags.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        for dag in dags:
            shutil.copy(dag, self.dags / dag.name)
        env = airflow_env(home, self.dags, self.url)
        env.update(
            AIRFLOW__CORE__EXECUTOR=executor,
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            # Each component's log server on a port of its own (others may run Airflow on this machine).
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        )
        env.update(extra_env)
        self.env = env

    # ------------------------------------------------------------------ commands

    def cli(self, *args: str, timeout: float = 300) -> None:
        """Run ``airflow ARGS`` to completion (output appended to ``cli.log``); raise if it fails."""
        with (self.logs / "cli.log").open("ab") as out:
            out.write(f"\n$ airflow {' '.join(args)}\n".encode())
            out.flush()
            done = subprocess.run(
                [self.airflow, *args],
                check=False,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if done.returncode:
            raise DeploymentError(f"`airflow {' '.join(args)}` exited with {done.returncode}")

    def start(self, name: str) -> None:
        """Start one component in its own process group (session), its output in ``<name>.log``."""
        self.start_process(name, [self.airflow, *COMPONENTS[name]])

    def start_worker(self, name: str, concurrency: int = 2) -> None:
        """Start a Celery worker (``airflow celery worker``) named ``name``, without its own log server."""
        argv = [self.airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(concurrency)]
        self.start_process(name, [*argv, "--skip-serve-logs"])

    def start_redis(self) -> str:
        """Start a throw-away ``redis-server`` on a free loopback port (no persistence); return its URL."""
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.start_process("redis", argv)

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        self.wait_for("redis to answer PING", lambda: _quietly(answers), 30, every=0.2)
        return f"redis://127.0.0.1:{port}"

    def kill(self, name: str) -> None:
        """SIGKILL a process and its whole group at once (a machine lost), and forget it."""
        proc = self.procs.pop(name)
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def start_process(self, name: str, argv: list[str]) -> None:
        """Start ``argv`` in its own process group (session) with this deployment's environment."""
        log = (self.logs / f"{name}.log").open("ab")
        try:
            self.procs[name] = subprocess.Popen(
                argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def bring_up(self, dag_id: str) -> RestClient:
        """Migrate, create the ``stoq`` pool, start every component, wait until all are healthy and ``dag_id``
        is serialized, unpause it; return a logged-in REST client."""
        self.cli("db", "migrate")
        self.cli("pools", "set", "stoq", "4", "STOQ tasks")
        for name in COMPONENTS:
            self.start(name)
        api = RestClient(self.url)

        def healthy() -> bool:
            health = api.session.get(f"{self.url}/api/v2/monitor/health", timeout=10).json()
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return all(health[part]["status"] == "healthy" for part in parts)

        self.wait_for("every component to report healthy", healthy, timeout=240)
        api.login()
        self.wait_for("the DAG processor to serialize the DAG", lambda: api.get(f"/dags/{dag_id}", ok=(200,)), 180)
        api.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return api

    def stop_component(self, name: str, grace: float = 30.0) -> None:
        """Stop one component gracefully (SIGTERM to its process group); raise if it had to be killed."""
        proc = self.procs.pop(name)
        if stop_process_group(proc, grace=grace):
            raise DeploymentError(f"{name} did not stop within {grace:g} s of SIGTERM and was killed")

    def check_alive(self) -> None:
        """Raise if a component has exited."""
        dead = {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}
        if dead:
            raise DeploymentError(f"Airflow component(s) exited early: {dead}")

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
        """Call ``probe`` until it returns something truthy; components must stay up meanwhile."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                value = probe()
            except (requests.RequestException, KeyError, ValueError) as exc:
                value, last_error = None, exc
            if value:
                return value
            time.sleep(every)
        detail = f" (last error: {type(last_error).__name__})" if last_error else ""
        raise DeploymentError(f"timed out after {timeout:g} s waiting for {what}{detail}")

    # ------------------------------------------------------------------ shutdown

    def stop(self, grace: float = 20.0) -> list[str]:
        """Stop every component's process group, then the broker; returns what had to be killed (should be empty)."""
        killed: list[str] = []
        for phase in ([n for n in self.procs if n != "redis"], [n for n in self.procs if n == "redis"]):
            for name in phase:  # all at once, so that they wind down in parallel
                with contextlib.suppress(ProcessLookupError):
                    self.procs[name].send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            killed += [
                f"process group of {name}"
                for name in phase
                if stop_process_group(self.procs[name], grace=max(0.1, deadline - time.monotonic()))
            ]
        for pid in self.stray_pids():
            killed.append(f"stray pid {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed

    def stray_pids(self) -> list[int]:
        """Processes, outside the started groups or not, whose environment names this deployment's home."""
        marker = f"AIRFLOW_HOME={self.home}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

    def log_tails(self, lines: int = 40, redact: Iterable[str] = ()) -> str:
        """The last ``lines`` lines of each component's log, with ``redact`` needles (and e-mails) removed."""
        from stoq_provider.api.redaction import scrub

        needles = [n for n in redact if n]
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace")
            for needle in needles:
                text = text.replace(needle, "***")
            tail = "\n".join(text.splitlines()[-lines:])
            out.append(f"----- {path.name} (last {lines} lines) -----\n{scrub(tail)}")
        return "\n".join(out)


def _quietly(probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except OSError:
        return False


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a group we cannot signal is not ours
        return False
    # A zombie leader still counts as alive for killpg; ask /proc whether anything else runs in the group.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            return True
    return False


class RestClient:
    """Airflow's public REST API with an all-admins token (simple auth manager)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: never through a proxy

    def login(self) -> None:
        answer = self.session.get(f"{self.url}/auth/token", timeout=30)
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200,), **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        if answer.status_code not in tuple(ok):
            raise DeploymentError(f"{method} /api/v2{path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)
