"""Prometheus metrics (`[metrics] listen`): what came in, what went out, how long it took, what waits.

Counters and the histogram are updated where the work happens (the daemon's
loop); the gauges are a snapshot of the database the loop takes with its
heartbeat, so the HTTP thread never touches the SQLite connection. One
registry of our own, not the process-wide default: nothing else leaks in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from maildesk.config.load import metrics_address

log = logging.getLogger("maildesk.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)
MAILS_IN = Counter("maildesk_mails_in", "Incoming mails by outcome (new, followup, quarantined, ignored, ...; "
                   "duplicate: delivered before; failed: a fault, retried later)", ["outcome"], registry=REGISTRY)
MAILS_OUT = Counter("maildesk_mails_out", "Outgoing mails by template kind and result (sent, deferred, dead)",
                    ["kind", "result"], registry=REGISTRY)
PROCESSING = Histogram("maildesk_processing_seconds", "Time to decide and commit one incoming mail",
                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)


def mail_in(outcome: str, seconds: float | None = None) -> None:
    MAILS_IN.labels(outcome).inc()
    if seconds is not None:
        PROCESSING.observe(seconds)


def mail_out(kind: str, result: str) -> None:
    MAILS_OUT.labels(kind, result).inc()


class Snapshot(Collector):
    """The gauges, from the last `update()` (the daemon calls it with `Store.health_rows()`)."""

    def __init__(self) -> None:
        self.health: dict[str, Any] = {}

    def update(self, health: dict[str, Any]) -> None:
        self.health = health  # one reference swap: a scrape sees the old snapshot or the new one

    def collect(self) -> Iterator[GaugeMetricFamily]:
        h = self.health
        outbox = GaugeMetricFamily("maildesk_outbox_mails", "Outgoing mails not yet sent, by state", labels=["state"])
        for state in ("pending", "sending", "dead"):
            outbox.add_metric([state], h.get("outbox", {}).get(state, {}).get("count", 0))
        outbox.add_metric(["deferred"], h.get("deferred", 0))
        yield outbox
        held = GaugeMetricFamily("maildesk_quarantine_held", "Held mails by reason code", labels=["reason"])
        for reason, n in sorted(h.get("quarantine", {}).items()):
            held.add_metric([reason], n)
        yield held
        tickets = GaugeMetricFamily("maildesk_tickets", "Tickets by status", labels=["status"])
        for status, n in sorted(h.get("tickets", {}).items()):
            tickets.add_metric([status], n)
        yield tickets


SNAPSHOT = Snapshot()
REGISTRY.register(SNAPSHOT)


def serve(listen: str) -> tuple[WSGIServer, Thread] | None:
    """Start the /metrics endpoint; a port that cannot be bound is logged, and mail flows on without it."""
    host, port = metrics_address(listen)
    try:
        return start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        log.error("metrics: cannot listen on %s (%s); running without metrics", listen, exc.strerror)
        return None
