"""``SandboxServer``: start a sandbox (in this process or a child process) and drive its admin API.

Example::

    with SandboxServer(intents=50) as sandbox:
        sandbox.base_url                  # "http://127.0.0.1:PORT/api/v1/external"
        sandbox.ledger()["total_sends"]

The helper methods call the ``/_sandbox`` admin routes over HTTP, so they behave the same in both modes.
"""

from __future__ import annotations

import atexit
import json
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any

from stoq_provider.sandbox.app import create_app
from stoq_provider.sandbox.banner import connection_json, connection_uri
from stoq_provider.sandbox.constants import ADMIN_PREFIX, EXTERNAL_PREFIX, OPENAPI_PATH
from stoq_provider.sandbox.runners import ProcessRunner, SandboxStartError, ThreadRunner
from stoq_provider.sandbox.state import SETTINGS, SandboxConfig, SandboxState


class SandboxAdminError(RuntimeError):
    """An admin call was refused (e.g. an invalid fault kind)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"sandbox admin call failed with {status}: {body}")
        self.status = status
        self.body = body


class SandboxServer:
    """A local STOQ-compatible server on loopback.

    ``subprocess=False`` runs uvicorn in a daemon thread of this process; ``subprocess=True`` runs
    ``python -m stoq_provider.sandbox`` as a child process (terminated by :meth:`stop`). ``port=0``
    picks a free port. ``options`` are those of :class:`~stoq_provider.sandbox.state.SandboxConfig` (``intents``,
    ``variants``, ``budget``, ``window``, ``pending_only``, ``seed``, ``anchor``, ``api_key``, ``shop_domain``) and
    of :class:`~stoq_provider.sandbox.readings.Reading`, the behaviours STOQ's docs leave open (``page_cap=100``,
    ``max_bulk=100``, ``reset_reading="fixed"``...).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        subprocess: bool = False,
        startup_timeout: float = 30.0,
        **options: Any,
    ) -> None:
        self.config = SandboxConfig().with_options(**options)
        self.host = host
        self.port = port
        self.subprocess = subprocess
        self.startup_timeout = startup_timeout
        #: The live state (in-process mode only; ``None`` in subprocess mode). It belongs to the server's
        #: event loop: read it freely in tests, but change things through the admin helpers.
        self.state: SandboxState | None = None
        #: Exit status of the child process once stopped (subprocess mode).
        self.exit_code: int | None = None
        self._runner: ThreadRunner | ProcessRunner | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle ---------------------------------------------------------------------------

    def _cli_args(self) -> list[str]:
        """The command line of the child process: every option, since the command line's defaults differ."""
        args: list[str] = []
        for name in SETTINGS:
            value = getattr(self.config, name)
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                args += [flag] if value else []
            elif value is not None:
                args += [flag, str(value)]
        return args + self.config.reading.cli_args()

    def start(self) -> SandboxServer:
        """Start serving and wait until the server answers; returns ``self``."""
        if self._runner is not None:
            return self
        runner: ThreadRunner | ProcessRunner
        if self.subprocess:
            runner = ProcessRunner(self._cli_args(), host=self.host, port=self.port)
        else:
            self.state = SandboxState(self.config)
            runner = ThreadRunner(create_app(self.state), host=self.host, port=self.port)
        self.port = runner.start(self.startup_timeout)
        self._runner = runner
        atexit.register(self.stop)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self.health()
                return
            except (OSError, SandboxAdminError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise SandboxStartError(f"the sandbox at {self.origin} never became healthy") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving (idempotent). A child process is terminated and reaped."""
        runner, self._runner = self._runner, None
        if runner is not None:
            atexit.unregister(self.stop)
            runner.stop()
            if isinstance(runner, ProcessRunner):
                self.exit_code = runner.returncode

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The v1 API base URL, ``origin + /api/v1/external``."""
        return self.origin + EXTERNAL_PREFIX

    @property
    def openapi_url(self) -> str:
        """Where the OpenAPI 3 description of the STOQ v1 API is served, ``origin + /openapi.json``."""
        return self.origin + OPENAPI_PATH

    @property
    def api_key(self) -> str:
        """The accepted ``X-Auth-Token``."""
        return self.config.api_key

    @property
    def shop_domain(self) -> str:
        """The accepted ``X-Shopify-Shop-Domain``."""
        return self.config.shop_domain

    def connection_json(self, **extra: Any) -> str:
        """An Airflow connection (JSON form) pointing at this sandbox."""
        return connection_json(self.base_url, self.api_key, **{"shop_domain": self.shop_domain, **extra})

    def connection_uri(self, **extra: Any) -> str:
        """The same connection in Airflow's URI form (``stoq://http://:KEY@HOST:PORT/api/v1/external?...``)."""
        return connection_uri(self.base_url, self.api_key, **{"shop_domain": self.shop_domain, **extra})

    # -- admin API -----------------------------------------------------------------------------

    def _admin(self, method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(method, f"{ADMIN_PREFIX}/{route}", body)  # always an object
        return answer

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """``method path`` on this server (no key), the JSON answer decoded; raises ``SandboxAdminError``."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.origin}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SandboxAdminError(exc.code, exc.read().decode(errors="replace")) from None

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3 document of the STOQ v1 API (``GET /openapi.json``; admin routes are not in it)."""
        document: dict[str, Any] = self._call("GET", OPENAPI_PATH)
        return document

    def health(self) -> dict[str, Any]:
        """``GET /_sandbox/health``."""
        return self._admin("GET", "health")

    def reset(self, **options: Any) -> dict[str, Any]:
        """Reseed and clear everything; options: seed, intents, variants, pending_only, anchor
        ("YYYY-MM-DD"), budget, window and the reading's (``page_cap``, ``max_bulk``...). Omitted ones return
        to the startup values."""
        return self._admin("POST", "reset", options)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change ``budget``, ``window`` and/or reading options (``max_bulk=None``: no maximum) at runtime."""
        return self._admin("POST", "config", options)

    def set_faults(self, **options: Any) -> dict[str, Any]:
        """Configure faults: rate, kinds, endpoints, slow_seconds, seed, script."""
        return self._admin("POST", "faults", options)

    def clear_faults(self) -> dict[str, Any]:
        """No more injected faults (an outage in progress continues)."""
        return self._admin("POST", "faults", {})

    def outage(self, seconds: float, kind: str = "html502") -> dict[str, Any]:
        """Fail every API request with ``kind`` for ``seconds`` (0 ends the outage)."""
        return self._admin("POST", "outage", {"seconds": seconds, "kind": kind})

    def add_intents(self, intents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add intents from partial field dictionaries; returns the complete intents."""
        added: list[dict[str, Any]] = self._admin("POST", "intents", {"intents": intents})["intents"]
        return added

    def intents(self) -> list[dict[str, Any]]:
        """Every intent, in listing order."""
        intents: list[dict[str, Any]] = self._admin("GET", "intents")["intents"]
        return intents

    def catalog(self) -> list[dict[str, Any]]:
        """Every known variant."""
        variants: list[dict[str, Any]] = self._admin("GET", "catalog")["variants"]
        return variants

    def ledger(self) -> dict[str, Any]:
        """Sends so far: ``sends``, ``total_sends``, ``duplicates``, ``events``."""
        return self._admin("GET", "ledger")

    def stats(self) -> dict[str, Any]:
        """Request counters, points charged, 429s and faults."""
        return self._admin("GET", "stats")

    def pii(self) -> dict[str, Any]:
        """The API key, e-mails and phones a client must never log."""
        return self._admin("GET", "pii")
