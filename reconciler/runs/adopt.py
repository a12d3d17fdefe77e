"""``reconciler adopt ADDRESS...``: take over objects made outside reconciler now, through the one safe apply.

An object without the tool's ownership marker (Azure tags, the ownership ledger, the embedded estate's marker) is
never deleted, and a tagged kind's is never even changed. Adopting it writes the marker, with the lifecycle its
spec gives it, and nothing else. Two ways: ``lifecycle.adopt: true`` in the spec (a reviewed plan shows
``adopt``), or this run, for addresses the specs declare.

The run is :func:`reconciler.runs.apply.apply_run` restricted to those addresses, each resource's policy saying
adopt, accept every field as it is (``ignoreFields: ["*"]``) and never create: the only change it can make is the
marker, under the addresses' scope locks, recorded in the audit trail and the history like any apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine.stop import NEVER, Stop
from reconciler.runs.apply import ApplyObserver, ApplyOutcome, ApplyRequest, apply_run
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import RunError
from reconciler.runs.session import Session

ADOPT_COMMAND = "reconciler adopt"


class NotAdoptable(RunError):
    """Some addresses cannot be adopted: not addresses, not declared in the specs, or of a configure-only kind."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def declared(session: Session, wanted: Sequence[str]) -> list[Address]:
    """The declared addresses ``wanted`` names (names compare case-insensitively, as the systems compare them);
    :class:`NotAdoptable` listing every address that is not one, not declared, or of a kind never owned."""
    problems: list[str] = []
    found: list[Address] = []
    by_text = {str(r.address).casefold(): r.address for r in session.all_resources}
    for text in wanted:
        try:
            Address.parse(text.strip())
        except ValueError as exc:
            problems.append(str(exc))
            continue
        address = by_text.get(text.strip().casefold())
        if address is None:
            problems.append(f"{text} is not declared in the specs: declare it first (reconciler import writes it)")
        elif not kinds.info(address.kind).creatable:
            what = kinds.info(address.kind).noun or kinds.info(address.kind).title
            problems.append(f"{text}: {what}s are configured, never created or deleted: there is nothing to adopt")
        elif address not in found:
            found.append(address)
    if problems:
        raise NotAdoptable(problems)
    return found


def _adopting(resource: Resource) -> Resource:
    """The resource as this run plans it: adopt, accept every field as it is, never create."""
    policy = dataclasses.replace(resource.policy, adopt=True, ignore_fields=("*",), creatable=False)
    return dataclasses.replace(resource, policy=policy)


def adopt_run(
    session: Session,
    addresses: Sequence[Address],
    *,
    observer: ApplyObserver | None = None,
    clock: Clock = SYSTEM,
    lock_timeout_s: float = 0.0,
    stop: Stop = NEVER,
) -> ApplyOutcome:
    """Adopt ``addresses`` (from :func:`declared`; the session loaded with them as targets). An object already
    the tool's has nothing to do (``NOTHING_TO_DO``); one that does not exist is an error in the plan shown."""
    chosen = frozenset(addresses)
    session.resources = [_adopting(r) if r.address in chosen else r for r in session.resources]
    request = ApplyRequest(
        targets=tuple(str(a) for a in addresses),
        only=chosen,
        lock_timeout_s=lock_timeout_s,
        label=ADOPT_COMMAND,
    )
    return apply_run(session, request, observer=observer, clock=clock, stop=stop)
