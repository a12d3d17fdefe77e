"""The Prometheus metrics of ``reconciler watch`` (docs/scheduling.md): cycles by result, when the last one
ran and succeeded, how long it took, the drift objects per site, tenant and class, and the auto-correct
steps by result. A private registry, served on ``--metrics-port`` by a daemon thread.

prometheus-client is imported when a watch builds its metrics, never for another command."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from reconciler.runs.watch import Cycle


class Metrics:
    """Prometheus metrics in a private registry (served by ``serve``)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge
        from prometheus_client.registry import Collector

        self.registry = CollectorRegistry()
        self.port: int | None = None  # where ``serve`` listens
        self.address: str | None = None  # ADDRESS:PORT, once serving
        self._drift: list[tuple[str, str, str, int]] = []  # (site, tenant, class, count), swapped whole
        owner = self

        class DriftObjects(Collector):
            """Objects per site, tenant and class from the last successful cycle: one snapshot, so a
            scrape never sees half a cycle's labels."""

            def collect(self) -> Iterable[Metric]:
                from prometheus_client.core import GaugeMetricFamily

                family = GaugeMetricFamily(
                    "reconciler_drift_objects",
                    "Objects per drift class in each site (tenant empty: the site's own objects) and tenant, "
                    "from the last successful cycle.",
                    labels=["site", "tenant", "class"],
                )
                for site, tenant, drift_class, count in owner._drift:
                    family.add_metric([site, tenant, drift_class], count)
                yield family

        self.registry.register(DriftObjects())
        self.last_run = Gauge(
            "reconciler_last_run_timestamp_seconds",
            "When the last drift cycle finished (Unix time), whatever its result.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "When the last drift cycle that read the estate finished (Unix time).",
            registry=self.registry,
        )
        self.duration = Gauge(
            "reconciler_last_run_duration_seconds",
            "How long the last drift cycle took, auto-correct included.",
            registry=self.registry,
        )
        self.runs = Counter(
            "reconciler_runs", "Drift cycles by result: ok, drift, error.", ["result"], registry=self.registry
        )
        self.apply_failures = Counter(
            "reconciler_apply_failures",
            "Auto-correct steps that failed or were skipped, and corrections that could not run.",
            registry=self.registry,
        )
        self.corrections_skipped = Counter(
            "reconciler_corrections_skipped",
            "Corrections that could not start because another apply held a scope they need.",
            registry=self.registry,
        )
        self.corrections = Counter(
            "reconciler_corrections",
            "Auto-correct steps by result: done, already-converged, failed, skipped, held.",
            ["result"],
            registry=self.registry,
        )
        for result in ("ok", "drift", "error"):
            self.runs.labels(result=result)

    def record(self, cycle: Cycle, *, now: float) -> None:
        self.runs.labels(result=cycle.result).inc()
        self.last_run.set(now)
        self.duration.set(cycle.duration_s)
        if cycle.report is not None:
            self.last_success.set(now)
            self._drift = [
                (s.site, s.tenant or "", drift_class, count)
                for s in cycle.report.by_scope()
                for drift_class, count in s.counts.items()
            ]
        if cycle.correction is not None:
            for result, count in cycle.correction.counts.items():
                self.corrections.labels(result=result).inc(count)
            if cycle.correction.failed:
                self.apply_failures.inc(cycle.correction.failed)
            if cycle.correction.locked:  # could not run at all: a failure to apply, and said so
                self.corrections_skipped.inc()
                self.apply_failures.inc()

    def serve(self, port: int, addr: str) -> Callable[[], None]:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread; returns what stops it."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, addr, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        self.port = server.server_port
        self.address = f"{addr}:{self.port}"
        return stop
