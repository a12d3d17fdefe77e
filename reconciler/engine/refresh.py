"""Read the live state of every resource: bulk, in parallel, one round trip per read scope.

The engine groups resources by (provider, read scope: what one call lists and where, such as the clouds of a VMM
server, a kind family's script on it, or the resource groups of a whole Azure AD directory) and hands each group
to its provider; a group may hold several kinds when the provider reads them together. Groups run concurrently
(bounded), so the wall time approaches the slowest chain of round trips rather than their sum. ``on_group``
lets the UI draw a progress bar without the engine printing."""

from __future__ import annotations

import math
import os
import queue
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import NamedTuple

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.errors import TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.engine.pool import DaemonPool
from reconciler.engine.stop import NEVER, Stop, Stopped
from reconciler.providers.base import Provider
from reconciler.providers.routing import Router


class Group(NamedTuple):
    """One bulk read: the resources one provider lists with one call (one kind, or a family read together)."""

    scope: str  # the provider's read scope: what it lists and where ("vmm.cloud vmm/vmm01", "vmm_networks ...")
    provider: Provider


def groups(resources: Sequence[Resource], router: Router) -> dict[Group, list[Resource]]:
    """Resources by (provider, read scope): each group is one provider round trip."""
    out: dict[Group, list[Resource]] = {}
    for r in resources:
        provider = router.provider(r)
        out.setdefault(Group(provider.read_scope(r), provider), []).append(r)
    return out


def _probes(resources: Sequence[Resource]) -> list[Resource]:
    """Placeholder reads for every creatable kind in every scope the specs manage where the specs hold
    no resource of that kind, so that objects they no longer declare are still found (for prune and
    for the plan's "not declared" report). A placeholder never matches an object; the list call it
    joins returns the scope's objects."""
    sites = {r.site for r in resources if r.site}
    tenants = {r.tenant: r.site for r in resources if r.tenant}
    present = {(r.address.kind, r.address.scope) for r in resources}
    out: list[Resource] = []
    for kind, info in kinds.KINDS.items():
        # Creatable kinds, and kinds whose undeclared objects are reported (a tenant's VMs, never deleted).
        if not info.creatable and not info.report_undeclared:
            continue
        scopes: list[tuple[str, str, str | None]] = []
        if "site" in info.scopes:
            scopes += [(site, site, None) for site in sites]
        if "tenant" in info.scopes:
            scopes += [(tenant, site, tenant) for tenant, site in tenants.items()]
        for scope, site, tenant in scopes:
            if (kind, scope) not in present:
                out.append(Resource(Address(kind, scope, PROBE), {}, site=site, tenant=tenant))
    return out


# Parallel list calls. They go to different API scopes (one VMM server per site, one subscription per
# tenant), so 32 in flight stays far below any one endpoint's throttling limits.
DEFAULT_CONCURRENCY = 32

PROBE = "\u2205 probe"  # never a real object's name


RETRY_AFTER_MAX_ENV = "RECONCILER_RETRY_AFTER_MAX_S"
DEFAULT_RETRY_AFTER_MAX_S = 120.0
RETRY_AFTER_MAX_LIMIT_S = 86_400.0


def retry_after_max_s(environ: Mapping[str, str] | None = None) -> float:
    """The longest a server's Retry-After makes a retry wait: ``RECONCILER_RETRY_AFTER_MAX_S`` (seconds, 0 to
    86400), default 120. A throttled answer asking for an hour would otherwise hold a step (or the read) an
    hour per attempt. ValueError naming the variable when it is not such a number."""
    raw = (os.environ if environ is None else environ).get(RETRY_AFTER_MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRY_AFTER_MAX_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= RETRY_AFTER_MAX_LIMIT_S:
        raise ValueError(
            f"{RETRY_AFTER_MAX_ENV}={raw!r}: use a number of seconds from 0 to {RETRY_AFTER_MAX_LIMIT_S:g} "
            f"(default {DEFAULT_RETRY_AFTER_MAX_S:g})"
        )
    return value


def retry_wait(state: RetryCallState) -> float:
    """Back-off before retrying a temporary error: exponential from 50 ms with up to 1 s of jitter,
    capped at 5 s, and never shorter than the server's Retry-After, itself capped at
    :func:`retry_after_max_s` (a bad setting counts as the default here: the runs check it up front)."""
    exc = state.outcome.exception() if state.outcome else None
    backoff = min(0.05 * 2.0 ** (state.attempt_number - 1) + random.uniform(0, 1.0), 5.0)
    if isinstance(exc, TemporaryError) and exc.retry_after:
        try:
            cap = retry_after_max_s()
        except ValueError:
            cap = DEFAULT_RETRY_AFTER_MAX_S
        return max(backoff, min(exc.retry_after, cap))
    return backoff


LONG_WAIT_S = 5.0
"""A retry's wait beyond the back-off's own cap: a server's Retry-After, worth telling the operator."""

Retried = Callable[[str, BaseException, float], None]
"""Told before each retry's wait: what is retried (a group, a step), the temporary error, the wait in seconds."""


def before_retry(on_retry: Retried | None, what: str) -> Callable[[RetryCallState], None] | None:
    """tenacity's ``before_sleep`` for ``on_retry`` (None: nothing to tell)."""
    if on_retry is None:
        return None

    def told(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if exc is not None:
            on_retry(what, exc, wait)

    return told


def read_all(
    resources: Sequence[Resource],
    router: Router,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    attempts: int = 6,
    on_group: Callable[[Group, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_batch: Callable[[Mapping[Address, Observed | None]], None] | None = None,
    on_retry: Retried | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stop: Stop = NEVER,
) -> dict[Address, Observed | None]:
    """Every resource's live object (None where absent). Temporary errors are retried with backoff, as
    apply retries them (``on_retry`` is told before each wait); any other provider error propagates: a plan
    built on a partial read would propose creating what merely could not be read. ``on_batch`` gets each
    group's answer as it arrives, on the calling thread, so planning can overlap the reads still in flight.
    When ``stop`` is set the read ends at once with :class:`~reconciler.engine.stop.Stopped`: waits end, groups
    not started never start, reads in flight are abandoned."""
    probes = _probes(resources)
    work = groups([*resources, *probes], router)
    if on_total is not None:
        on_total(len(work))
    out: dict[Address, Observed | None] = {}
    pause = stop.sleeper(sleep)

    def read(group: Group, members: list[Resource]) -> Mapping[Address, Observed | None]:
        retrying = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(max(1, attempts)),
            wait=retry_wait,
            sleep=pause,
            before_sleep=before_retry(on_retry, group.scope),
            reraise=True,
        )
        stop.check()
        return retrying(group.provider.read, members)

    done: queue.SimpleQueue[Future[Mapping[Address, Observed | None]] | None] = queue.SimpleQueue()
    pool = DaemonPool(concurrency, name="read")
    futures: dict[Future[Mapping[Address, Observed | None]], Group] = {}
    try:
        with stop.listening(lambda: done.put(None)):  # a stop wakes the wait below
            for g, m in work.items():
                future = pool.submit(read, g, m)
                futures[future] = g
                future.add_done_callback(done.put)
            for _ in range(len(futures)):
                finished = done.get()
                if finished is None or stop.is_set:
                    raise Stopped(stop.reason)
                group = futures[finished]
                batch = {a: o for a, o in finished.result().items() if a.name != PROBE}
                out.update(batch)
                if on_batch is not None:
                    on_batch(batch)
                if on_group is not None:
                    on_group(group, len(work[group]))
    finally:
        pool.shutdown(cancel_futures=True)  # one failed read fails the plan: do not wait for the rest
    return out
