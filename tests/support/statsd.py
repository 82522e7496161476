"""A real StatsD listener on loopback UDP, for checking the metrics a deployment's components send."""

from __future__ import annotations

import re
import socket
import threading
from collections import defaultdict

#: ``name:value|type`` with an optional ``|@rate`` (one metric a line; a packet may hold several lines).
_LINE = re.compile(r"^(?P<name>[^:]+):(?P<value>-?[\d.]+)\|(?P<kind>c|ms|g|h|s)(?:\|@(?P<rate>[\d.]+))?")


class StatsdListener:
    """Collects StatsD counters (summed, rate-corrected) and timers (every value) sent to ``127.0.0.1:port``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.counters: dict[str, float] = defaultdict(float)
        self.timers: dict[str, list[float]] = defaultdict(list)
        self.packets = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statsd-listener", daemon=True)

    def __enter__(self) -> StatsdListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.packets += 1
                for line in data.decode(errors="replace").splitlines():
                    match = _LINE.match(line.strip())
                    if not match:
                        continue
                    value = float(match["value"])
                    if match["kind"] == "c":
                        self.counters[match["name"]] += value / float(match["rate"] or 1.0)
                    elif match["kind"] == "ms":
                        self.timers[match["name"]].append(value)

    def counter(self, name: str) -> float:
        with self._lock:
            return self.counters.get(name, 0.0)

    def names(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(n for n in [*self.counters, *self.timers] if n.startswith(prefix))
