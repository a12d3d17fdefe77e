"""``reconciler watch``: drift on an interval (docs/scheduling.md). The cycles, metrics, webhook and
auto-correct are :mod:`reconciler.runs.watch`'s; this module checks the options, serves the metrics, turns
SIGTERM and Ctrl-C into a clean stop (the current cycle finishes, then exit 0), shows what a cycle could
not do, and maps ``--once``'s last cycle to the exit code.

Only typer is imported at module level; the engine, the store and prometheus-client load when the command runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.plan_cmds import Estate, Excludes, Shard, Targets, with_shard

if TYPE_CHECKING:
    from reconciler.engine.stop import Stop
    from reconciler.runs.metrics import Metrics
    from reconciler.runs.watch import WatchObserver

ENV_WEBHOOK = "RECONCILER_WEBHOOK_URL"

Jitter = Annotated[
    str,
    typer.Option(
        "--jitter", metavar="FRACTION", help="Add a random delay of up to this fraction of the interval (10%, 0.1, 0)."
    ),
]
AutoCorrect = Annotated[
    bool,
    typer.Option(
        "--auto-correct",
        help="Re-apply drifted and missing resources (never pending spec changes, never disruptive "
        "changes outside their maintenance window).",
    ),
]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port", min=0, max=65535, metavar="PORT", help="Serve Prometheus metrics on this port (/metrics)."
    ),
]
Webhook = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        envvar=ENV_WEBHOOK,
        metavar="URL",
        help="POST a JSON summary here when drift appears, changes or clears (Slack, Teams).",
    ),
]


def _on_signals(stop: threading.Event, run_stop: Stop) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop`` (no cycle after this one) and ``run_stop`` (the cycle in progress ends
    promptly: its read stops, a correction stops as apply does, recording and releasing); a second one
    abandons a correction's steps in flight; a third stops at once. Returns what restores the previous
    handlers. Outside the main thread (tests) signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    count = 0

    def handler(signum: int, _frame: object) -> None:
        nonlocal count
        count += 1
        if count > 2:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        stop.set()
        run_stop.set(name, hard=count > 1, signalled=True)
        from reconciler.runs import logs

        logs.log("watch.stopping", signal=name)

    for s in previous:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


def _observer() -> WatchObserver:
    """Shows a cycle's note about a new embedded estate and why a cycle or its correction stopped, on stderr."""
    from reconciler.cli import progress, run_errors
    from reconciler.runs.errors import RunError
    from reconciler.runs.session import Session
    from reconciler.runs.watch import WatchObserver

    class Shown(WatchObserver):
        def loaded(self, session: Session) -> None:
            progress.noted(session)

        def failed(self, error: RunError) -> None:
            run_errors.render(error)

    return Shown()


def _schedule(every: str, jitter: str) -> tuple[float, float]:
    """``--every`` in seconds and ``--jitter`` as a fraction; a bad value exits 1 saying why."""
    from reconciler.cli.consoles import err
    from reconciler.core.units import parse_duration_seconds
    from reconciler.engine import watch as engine_watch

    try:
        return parse_duration_seconds(every), engine_watch.parse_jitter(jitter)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


def _serve(metrics: Metrics, port: int | None, addr: str) -> Callable[[], None]:
    """Serve the metrics on ``addr:port`` when a port is given; what stops it. A port in use exits 1."""
    from reconciler.cli.consoles import err

    if port is None:
        return lambda: None
    try:
        return metrics.serve(port, addr)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot serve metrics on {addr}:{port}: {exc}")
        raise typer.Exit(1) from exc


def watch(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Spec folder or file.")] = Path("specs"),
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="Time between cycles: 30s, 15m, 1h.")
    ] = "15m",
    jitter: Jitter = "10%",
    auto_correct: AutoCorrect = False,
    apply_pending: Annotated[
        bool, typer.Option("--apply-pending", help="With --auto-correct, apply pending spec changes too.")
    ] = False,
    metrics_port: MetricsPort = None,
    metrics_addr: Annotated[
        str, typer.Option("--metrics-addr", metavar="ADDRESS", help="Address the metrics listen on.")
    ] = "127.0.0.1",
    webhook: Webhook = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit: 0 in sync, 2 anything found, 1 error.")
    ] = False,
    target: Targets = None,
    shard: Shard = None,
    exclude: Excludes = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=256, metavar="N", help="Parallel auto-correct steps per provider."),
    ] = 8,
    estate: Estate = None,
) -> None:
    """Run drift on an interval: log, export metrics, notify a webhook, and optionally re-apply drift.
    SIGTERM/Ctrl-C stop the current cycle promptly, then exit 0."""
    from reconciler.cli.consoles import err
    from reconciler.cli.run_errors import exits_on_run_errors
    from reconciler.engine.stop import Stop
    from reconciler.runs import clock
    from reconciler.runs import watch as run_watch
    from reconciler.runs.metrics import Metrics

    with exits_on_run_errors():
        now = clock.from_environ()
    interval, fraction = _schedule(every, jitter)
    if apply_pending and not auto_correct:
        err.print("[red]error:[/red] --apply-pending needs --auto-correct", highlight=False)
        raise typer.Exit(1)
    if webhook is not None and not webhook.lower().startswith(("http://", "https://")):
        err.print("[red]error:[/red] --webhook must be an http:// or https:// URL", highlight=False)
        raise typer.Exit(1)
    options = run_watch.Options(
        path=path,
        targets=with_shard(target, shard),
        excludes=exclude or [],
        estate=estate,
        auto_correct=auto_correct,
        apply_pending=apply_pending,
        concurrency=concurrency,
        every_s=interval,
        jitter=fraction,
        webhook=webhook,
        once=once,
    )
    metrics = Metrics()
    stop_server = _serve(metrics, metrics_port, metrics_addr)
    stop, run_stop = threading.Event(), Stop()
    restore = _on_signals(stop, run_stop)
    try:
        cycle = run_watch.watch(options, stop=stop, metrics=metrics, observer=_observer(), clock=now, run_stop=run_stop)
    finally:
        restore()
        stop_server()
    if once:  # 1: the cycle or its correction failed; 2: it found drift; else 0
        failed = cycle.correction is not None and cycle.correction.failed
        if cycle.error or failed:
            raise typer.Exit(1)
        if cycle.result == "drift":
            raise typer.Exit(2)
