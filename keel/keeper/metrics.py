"""Prometheus-style metrics for the keeper, served on an optional local port.

``keel keeper --metrics-port 9464`` serves ``http://127.0.0.1:9464/metrics`` in the
Prometheus text exposition format (version 0.0.4): gauges for what is watched now and
counters for what the keeper did. No client library: the format is a few lines.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

PREFIX = "keel_keeper_"

#: name -> (type, help)
METRICS: dict[str, tuple[str, str]] = {
    "block": ("gauge", "Last block the keeper read"),
    "vaults_watched": ("gauge", "Vaults known from events"),
    "vaults_with_debt": ("gauge", "Vaults with debt (read every tick)"),
    "vaults_unsafe": ("gauge", "Vaults and margin accounts found unsafe in the last tick"),
    "auctions_open": ("gauge", "Auction lots running"),
    "margin_accounts": ("gauge", "Portfolio-margin accounts watched"),
    "scan_seconds": ("gauge", "Seconds the last state read took"),
    "tick_seconds": ("gauge", "Seconds the last tick took"),
    "profit_kusd": ("gauge", "Profit so far in debt tokens: rewards + take profits - gas"),
    "gas_spent_eth": ("gauge", "ETH paid for gas so far"),
    "liquidations_total": ("counter", "Vaults liquidated by this keeper"),
    "takes_total": ("counter", "Auction takes by this keeper"),
    "resets_total": ("counter", "Auction resets by this keeper"),
    "margin_actions_total": ("counter", "Margin-account liquidation steps by this keeper"),
    "tx_sent_total": ("counter", "Transactions sent"),
    "tx_replaced_total": ("counter", "Transactions replaced with higher fees"),
    "tx_reverted_total": ("counter", "Transactions mined but reverted"),
    "tx_refused_total": ("counter", "Actions refused before sending (estimate reverted or gas price above the cap)"),
    "rpc_errors_total": ("counter", "Ticks that failed on an RPC error"),
    "rpc_requests_total": ("counter", "HTTP requests to the node"),
    "rpc_calls_total": ("counter", "JSON-RPC calls to the node"),
}


class Metrics:
    """Thread-safe values keyed by the short names in :data:`METRICS`."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {name: 0.0 for name in METRICS}
        self._lock = threading.Lock()

    def set(self, name: str, value: float) -> None:
        self._check(name)
        with self._lock:
            self._values[name] = float(value)

    def inc(self, name: str, by: float = 1) -> None:
        self._check(name)
        with self._lock:
            self._values[name] += by

    def get(self, name: str) -> float:
        with self._lock:
            return self._values[name]

    @staticmethod
    def _check(name: str) -> None:
        if name not in METRICS:
            raise KeyError(f"unknown metric {name!r}")

    def render(self) -> str:
        lines = []
        with self._lock:
            for name, (kind, help_text) in METRICS.items():
                full = PREFIX + name
                lines += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}", f"{full} {self._values[name]:.10g}"]
        return "\n".join(lines) + "\n"


def serve(metrics: Metrics, port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """Serve ``/metrics`` on a daemon thread; returns a function that stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="keeper-metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


__all__ = ["Metrics", "METRICS", "PREFIX", "serve"]
