"""Running the sandbox application: uvicorn in a background thread, or in a child process.

Both bind their own listening socket (port 0 picks a free port), so the real port is known without
racing another process for it.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG

LISTENING_LINE = "STOQ sandbox listening on {base_url}"
_LISTENING_RE = re.compile(r"STOQ sandbox listening on (http://(?P<host>[^:/]+):(?P<port>\d+)\S*)")


class SandboxStartError(RuntimeError):
    """The sandbox did not come up."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; connections queue until uvicorn accepts them."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def build_server(app: ASGIApp, *, configure_logging: bool) -> uvicorn.Server:
    """A quiet uvicorn server for ``app`` (no access log, warnings and errors only).

    ``configure_logging=False`` leaves the host process's logging configuration alone (in-process use).
    """
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
        log_config=LOGGING_CONFIG if configure_logging else None,
    )
    return uvicorn.Server(config)


class ThreadRunner:
    """uvicorn serving ``app`` in a daemon thread of this process."""

    def __init__(self, app: ASGIApp, *, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self, timeout: float) -> int:
        """Serve, wait until ready, and return the port."""
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = build_server(self.app, configure_logging=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"stoq-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(timeout=1.0)
                raise SandboxStartError("the in-process sandbox server did not start")
            time.sleep(0.01)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down and wait for its thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


class ProcessRunner:
    """``python -m stoq_provider.sandbox`` in a child process (terminated by :meth:`stop`)."""

    def __init__(self, cli_args: Sequence[str], *, host: str, port: int) -> None:
        self.cli_args = list(cli_args)
        self.host = host
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self._pump_thread: threading.Thread | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        #: The child's exit status once it has been stopped.
        self.returncode: int | None = None

    def _environment(self) -> dict[str, str]:
        """This environment, with the directory holding ``stoq_provider`` first on ``PYTHONPATH``."""
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _pump(self) -> None:
        """Read the child's stdout (so it never blocks on a full pipe); hand lines to ``start``."""
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def start(self, timeout: float) -> int:
        """Start the child, wait for its "listening" line, and return the port."""
        command = [
            sys.executable,
            "-m",
            "stoq_provider.sandbox",
            *self.cli_args,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=self._environment())
        self._pump_thread = threading.Thread(target=self._pump, name="stoq-sandbox-stdout", daemon=True)
        self._pump_thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            match = _LISTENING_RE.search(line) if line else None
            if match:
                self.port = int(match.group("port"))
                return self.port
            if line is None:
                self.stop(timeout=2.0)
                raise SandboxStartError("the sandbox subprocess did not report that it is listening")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the child (SIGTERM, then SIGKILL if it lingers) and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self.returncode = process.returncode
        if self._pump_thread is not None:
            self._pump_thread.join(timeout)  # ends at EOF, now that the child is gone
            self._pump_thread = None
        if process.stdout is not None:
            process.stdout.close()
