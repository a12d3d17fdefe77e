"""Read the live state of every resource: bulk, in parallel, one round trip per kind and read scope.

The engine groups resources by (kind, read scope: the VMM server, vault or subscription one list call
covers) and hands each group to the provider serving the kind;
groups run concurrently (bounded), so the wall time approaches the slowest chain of round trips rather
than their sum. ``on_group`` lets the UI draw a progress bar without the engine printing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import NamedTuple

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.errors import TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.base import Provider
from reconciler.providers.routing import Router


class Group(NamedTuple):
    """One bulk read: the resources of one kind that one provider lists with one call."""

    kind: str
    scope: str  # the provider's read scope (a VMM server, a vault, a subscription)
    provider: Provider


def groups(resources: Sequence[Resource], router: Router) -> dict[Group, list[Resource]]:
    """Resources by (kind, provider, read scope): each group is one provider round trip."""
    out: dict[Group, list[Resource]] = {}
    for r in resources:
        provider = router.provider(r)
        out.setdefault(Group(r.address.kind, provider.read_scope(r), provider), []).append(r)
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


def retry_wait(state: RetryCallState) -> float:
    """Back-off before retrying a temporary error: exponential from 50 ms with up to 1 s of jitter,
    capped at 5 s, and never shorter than the server's Retry-After."""
    exc = state.outcome.exception() if state.outcome else None
    backoff = min(0.05 * 2.0 ** (state.attempt_number - 1) + random.uniform(0, 1.0), 5.0)
    if isinstance(exc, TemporaryError) and exc.retry_after:
        return max(backoff, exc.retry_after)
    return backoff


def read_all(
    resources: Sequence[Resource],
    router: Router,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    attempts: int = 6,
    on_group: Callable[[Group, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_batch: Callable[[Mapping[Address, Observed | None]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[Address, Observed | None]:
    """Every resource's live object (None where absent). Temporary errors are retried with backoff, as
    apply retries them; any other provider error propagates: a plan built on a partial read would
    propose creating what merely could not be read. ``on_batch`` gets each group's answer as it
    arrives, on the calling thread, so planning can overlap the reads still in flight."""
    probes = _probes(resources)
    work = groups([*resources, *probes], router)
    if on_total is not None:
        on_total(len(work))
    out: dict[Address, Observed | None] = {}

    def read(group: Group, members: list[Resource]) -> Mapping[Address, Observed | None]:
        retrying = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(max(1, attempts)),
            wait=retry_wait,
            sleep=sleep,
            reraise=True,
        )
        return retrying(group.provider.read, members)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(read, g, m): g for g, m in work.items()}
        try:
            for future in as_completed(futures):
                group = futures[future]
                batch = {a: o for a, o in future.result().items() if a.name != PROBE}
                out.update(batch)
                if on_batch is not None:
                    on_batch(batch)
                if on_group is not None:
                    on_group(group, len(work[group]))
        except BaseException:
            for future in futures:
                future.cancel()  # one failed read fails the plan: do not wait for the rest
            raise
    return out
