"""A host that answers every request with a redirect to a second host, recording the API key each one saw."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar


class _Redirector(http.server.BaseHTTPRequestHandler):
    seen_keys: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen_keys.append(self.headers.get("X-Auth-Token"))
        self.send_response(302)
        self.send_header("Location", f"http://localhost:{self.server.other_port}/steal")  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def redirecting_host() -> Iterator[tuple[str, list[str | None]]]:
    """``(base_url, seen_keys)``: a STOQ base URL that redirects to a "thief" host; ``seen_keys`` lists the
    ``X-Auth-Token`` of every request either host received."""
    thief = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
    front = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
    front.other_port = thief.other_port = thief.server_address[1]  # type: ignore[attr-defined]
    for server in (front, thief):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Redirector.seen_keys = []
    try:
        yield f"http://127.0.0.1:{front.server_address[1]}/api/v1/external", _Redirector.seen_keys
    finally:
        front.shutdown()
        thief.shutdown()
