"""``reconciler watch``: drift on an interval (docs/scheduling.md).

Each cycle loads the specs, reads the live state and classifies it as ``reconciler drift`` does, logs a
``watch.cycle`` event, updates the Prometheus metrics (``--metrics-port``), posts to ``--webhook`` when drift
appears, changes or clears, and with ``--auto-correct`` re-applies what drifted: only drifted and missing
resources (pending spec changes only with ``--apply-pending``), under the same scope locks as apply
(skipped with a warning when another apply holds one), never with ``--allow-disruption`` (a disruptive
correction waits for its maintenance window). SIGTERM or Ctrl-C lets the current cycle finish, then exits 0.

Only typer is imported at module level; the engine, the store and prometheus-client load when the command runs."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, Targets

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from reconciler.engine import applier
    from reconciler.engine.drift import DriftReport
    from reconciler.runs.session import Session

ENV_WEBHOOK = "RECONCILER_WEBHOOK_URL"
WEBHOOK_TIMEOUT_S = 10.0
WEBHOOK_ATTEMPTS = 3
LOCK_COMMAND = "reconciler watch --auto-correct"


@dataclasses.dataclass
class Options:
    path: Path
    targets: list[str]
    excludes: list[str]
    estate: Path | None
    auto_correct: bool
    apply_pending: bool
    concurrency: int


@dataclasses.dataclass
class Correction:
    """What one cycle's auto-correct did."""

    wanted: int = 0  # addresses it set out to correct
    skipped: str = ""  # why it did nothing (a lock held, nothing left to do)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # step results
    failed: int = 0  # failed and skipped steps


@dataclasses.dataclass
class Cycle:
    report: DriftReport | None = None
    error: str = ""
    correction: Correction | None = None
    duration_s: float = 0.0

    @property
    def result(self) -> str:
        """``ok`` (nothing found), ``drift`` (anything found) or ``error`` (the cycle failed)."""
        if self.report is None:
            return "error"
        return "drift" if self.report.findings else "ok"


# --------------------------------------------------------------------------------------------- metrics


class Metrics:
    """Prometheus metrics in a private registry (served by ``serve``)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge
        from prometheus_client.registry import Collector

        self.registry = CollectorRegistry()
        self.port: int | None = None  # where ``serve`` listens
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

    def serve(self, port: int, addr: str) -> Callable[[], None]:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread; returns what stops it."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, addr, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        self.port = server.server_port
        return stop


# --------------------------------------------------------------------------------------------- webhook


class _Retryable(Exception):
    """A 5xx answer or a connection failure: worth another attempt."""


def webhook_host(url: str) -> str:
    """The URL as logged: scheme and host only (an incoming webhook's path is its secret)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}/..."


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    timeout_s: float = WEBHOOK_TIMEOUT_S,
    attempts: int = WEBHOOK_ATTEMPTS,
    wait_s: float = 1.0,
) -> bool:
    """POST ``payload`` (secrets masked) as JSON; retry 5xx answers and connection failures. A failure is
    logged as a warning (``watch.webhook-failed``) and returns False: a webhook never stops a watch."""
    import urllib.error
    import urllib.request

    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    from reconciler.runs import logs

    body = json.dumps(logs.redact(payload), default=str).encode("utf-8")

    def once() -> int:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "reconciler-watch"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                status: int = answer.status
                return status
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code} {exc.reason}") from exc
            raise
        except (urllib.error.URLError, OSError) as exc:
            raise _Retryable(str(getattr(exc, "reason", exc))) from exc

    where = webhook_host(url)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(max(1, attempts)),
            wait=wait_exponential(multiplier=wait_s, max=max(wait_s, 8 * wait_s)),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        ):
            with attempt:
                status = once()
    except (_Retryable, urllib.error.HTTPError, ValueError) as exc:
        logs.log("watch.webhook-failed", level="warning", webhook=where, notice=payload.get("event"), error=str(exc))
        return False
    logs.log("watch.webhook", webhook=where, notice=payload.get("event"), status=status)
    return True


# --------------------------------------------------------------------------------------------- one cycle


def _drift(session: Session, options: Options) -> DriftReport:
    """The drift report, made exactly as ``reconciler drift`` makes it (health findings included), and
    recorded in the history store like a drift run (a store that cannot be written is only a warning)."""
    from reconciler.runs import drift as run_drift
    from reconciler.runs import run_history

    run = run_history.ReportRun("drift")  # started now: the run's duration covers the read
    found = run_drift.drift(session, targets=options.targets, excludes=options.excludes)
    run_drift.record(run, found)
    return found.report


def _correct(session: Session, report: DriftReport, options: Options) -> Correction | None:
    """Re-apply what drifted (see the module docstring); None when nothing needs it."""
    from reconciler.engine import applier, watch
    from reconciler.runs import audit, logs, run_history
    from reconciler.runs.session import make_plan
    from reconciler.store import locks

    wanted = watch.corrections(report, apply_pending=options.apply_pending)
    if not wanted:
        return None
    correction = Correction(wanted=len(wanted))
    scopes = watch.scopes(session.resources, wanted)
    try:
        held = locks.acquire(scopes, command=LOCK_COMMAND)
    except locks.LockHeld as exc:
        correction.skipped = f"{exc.scope} is locked by {exc.holder} pid {exc.pid} ({exc.command})"
        logs.log("watch.correct-skipped", level="warning", reason=correction.skipped, addresses=len(wanted))
        return correction
    result: applier.ApplyReport | None = None
    try:
        # Read again under the locks, as apply does: another apply may have changed things since the drift read.
        plan = make_plan(session, targets=options.targets, excludes=options.excludes)
        plan = watch.restrict(plan, wanted)
        if not plan.pending:
            correction.skipped = "nothing left to correct"
            return correction
        run = audit.start_apply(plan, command=LOCK_COMMAND, concurrency=options.concurrency, allow_disruption=False)
        resources = applier.resources_by_address(session.resources)
        recorder = run_history.begin(run.run_id, plan, session.spec_paths, resources)
        recorder.confirm_in_sync(plan)
        try:
            result = applier.apply_plan(
                plan,
                resources,
                session.providers,
                concurrency=options.concurrency,
                hooks=recorder.hooks(run.hooks(applier.Hooks())),
                allow_disruption=False,  # a disruptive correction waits for its maintenance window
            )
        finally:
            recorder.end(result)
    finally:
        held.release()
    assert result is not None  # apply_plan returned (it raises otherwise)
    run.end(result)
    for step in result.results:
        correction.counts[step.status] = correction.counts.get(step.status, 0) + 1
    correction.failed = len(result.by_status(applier.StepStatus.FAILED)) + len(
        result.by_status(applier.StepStatus.SKIPPED)
    )
    logs.log(
        "watch.corrected",
        level="warning" if correction.failed else "info",
        run_id=run.run_id,
        addresses=len(wanted),
        steps=correction.counts,
        held=[str(r.address) for r in result.by_status(applier.StepStatus.HELD)],
    )
    return correction


def _explain(exc: BaseException) -> str:
    from reconciler.cli import failures
    from reconciler.runs import logs

    text: str = logs.redactor().text(failures.explain(exc))
    return text.splitlines()[0] if text else type(exc).__name__


def run_cycle(options: Options) -> Cycle:
    """One cycle: drift, then auto-correct if asked. Never raises for a failed cycle: ``error`` says why."""
    from reconciler.cli import failures, progress, run_errors
    from reconciler.runs.errors import RunError

    started = time.monotonic()
    cycle = Cycle()
    try:
        session = progress.load(
            [options.path], targets=options.targets, excludes=options.excludes, estate=options.estate
        )
        try:
            cycle.report = _drift(session, options)
            if options.auto_correct:
                try:
                    cycle.correction = _correct(session, cycle.report, options)
                except (typer.Exit, RunError) as exc:
                    if isinstance(exc, RunError):
                        run_errors.render(exc)
                    cycle.correction = Correction(skipped="the audit log or history store is unusable", failed=1)
                except Exception as exc:
                    if failures.debugging():
                        raise
                    cycle.correction = Correction(skipped=_explain(exc), failed=1)
                    from reconciler.runs import logs

                    logs.log("watch.correct-failed", level="error", error=cycle.correction.skipped)
        finally:
            session.close()
    except RunError as exc:
        run_errors.render(exc)
        cycle.error = "the cycle failed (see the message above)"
    except typer.Exit:  # the read printed why
        cycle.error = "the cycle failed (see the message above)"
    except Exception as exc:
        if failures.debugging():
            raise
        cycle.error = _explain(exc)
    cycle.duration_s = time.monotonic() - started
    return cycle


# --------------------------------------------------------------------------------------------- the command


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop`` (the cycle in progress finishes); a second one stops at once.
    Returns what restores the previous handlers. Outside the main thread (tests) signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        from reconciler.runs import logs

        logs.log("watch.stopping", signal=signal.Signals(signum).name)

    for s in previous:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


def watch(
    path: Annotated[Path, typer.Argument(help="Spec folder or file.")] = Path("specs"),
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="Time between cycles: 30s, 15m, 1h.")
    ] = "15m",
    jitter: Annotated[
        str,
        typer.Option(
            "--jitter",
            metavar="FRACTION",
            help="Add a random delay of up to this fraction of the interval (10%, 0.1, 0).",
        ),
    ] = "10%",
    auto_correct: Annotated[
        bool,
        typer.Option(
            "--auto-correct",
            help="Re-apply drifted and missing resources (never pending spec changes, never disruptive "
            "changes outside their maintenance window).",
        ),
    ] = False,
    apply_pending: Annotated[
        bool, typer.Option("--apply-pending", help="With --auto-correct, apply pending spec changes too.")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=0, max=65535, metavar="PORT", help="Serve Prometheus metrics on this port (/metrics)."
        ),
    ] = None,
    metrics_addr: Annotated[
        str, typer.Option("--metrics-addr", metavar="ADDRESS", help="Address the metrics listen on.")
    ] = "127.0.0.1",
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            envvar=ENV_WEBHOOK,
            metavar="URL",
            help="POST a JSON summary here when drift appears, changes or clears (Slack, Teams).",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit: 0 in sync, 2 anything found, 1 error.")
    ] = False,
    target: Targets = None,
    exclude: Excludes = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=256, metavar="N", help="Parallel auto-correct steps per provider."),
    ] = 8,
    estate: Estate = None,
) -> None:
    """Run drift on an interval: log, export metrics, notify a webhook, and optionally re-apply drift.
    SIGTERM/Ctrl-C finish the current cycle, then exit 0."""
    import random

    from reconciler.cli.consoles import err
    from reconciler.core.units import parse_duration_seconds
    from reconciler.engine import watch as engine_watch
    from reconciler.runs import audit, logs

    try:
        interval = parse_duration_seconds(every)
        fraction = engine_watch.parse_jitter(jitter)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if apply_pending and not auto_correct:
        err.print("[red]error:[/red] --apply-pending needs --auto-correct", highlight=False)
        raise typer.Exit(1)
    if webhook is not None and not webhook.lower().startswith(("http://", "https://")):
        err.print("[red]error:[/red] --webhook must be an http:// or https:// URL", highlight=False)
        raise typer.Exit(1)
    options = Options(
        path=path,
        targets=target or [],
        excludes=exclude or [],
        estate=estate,
        auto_correct=auto_correct,
        apply_pending=apply_pending,
        concurrency=concurrency,
    )
    metrics = Metrics()
    stop_server: Callable[[], None] = lambda: None  # noqa: E731
    if metrics_port is not None:
        try:
            stop_server = metrics.serve(metrics_port, metrics_addr)
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot serve metrics on {metrics_addr}:{metrics_port}: {exc}")
            raise typer.Exit(1) from exc
    _, host = audit.who()
    stop = threading.Event()
    restore = _on_signals(stop)
    rng = random.Random()
    previous: frozenset[str] | None = None
    cycle = Cycle()
    logs.log(
        "watch.start",
        every_s=interval,
        jitter=fraction,
        auto_correct=auto_correct,
        apply_pending=apply_pending,
        metrics=f"{metrics_addr}:{metrics.port}" if metrics_port is not None else None,
        webhook=webhook_host(webhook) if webhook else None,
        once=once,
    )
    try:
        while True:
            started = time.monotonic()
            cycle = run_cycle(options)
            metrics.record(cycle, now=time.time())
            report = cycle.report
            logs.log(
                "watch.cycle",
                level="error" if cycle.error else "info",
                result=cycle.result,
                duration_s=round(cycle.duration_s, 3),
                counts=report.counts() if report is not None else None,
                drifted=len(engine_watch.drifted(report)) if report is not None else None,
                corrected=dataclasses.asdict(cycle.correction) if cycle.correction is not None else None,
                error=cycle.error or None,
            )
            if report is not None:
                current = frozenset(str(e.address) for e in engine_watch.drifted(report))
                notice = engine_watch.notice(previous, current)
                previous = current
                if notice is not None and webhook:
                    post_webhook(webhook, engine_watch.webhook_payload(report, notice, host=host))
            if once or stop.is_set():
                break
            delay = engine_watch.next_delay(interval, fraction, rng) - (time.monotonic() - started)
            logs.log("watch.sleep", level="debug", seconds=round(max(0.0, delay), 1))
            if stop.wait(max(0.0, delay)):
                break
    finally:
        restore()
        stop_server()
    logs.log("watch.stopped", signal=stop.is_set())
    if once:
        failed = cycle.correction is not None and cycle.correction.failed
        if cycle.error or failed:
            raise typer.Exit(1)
        if cycle.result == "drift":
            raise typer.Exit(2)
