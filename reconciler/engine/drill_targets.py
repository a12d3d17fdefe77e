"""What a DR drill fails over, per tenant: pure. The specs and their expanded resources in, one
:class:`TenantPlan` per selected tenant out: its drill network, the production networks it must never be, its
targets in order (each recovery plan with its VMs group by group, then each protected VM no plan holds) and the
policy its RPO is judged by.

Tenants are chosen by ``tenant/NAME`` or ``site/NAME`` (every tenant of the site); no selector: every tenant that
has disaster recovery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine import rpo
from reconciler.spec.loader import SpecSet

ITEM_KIND = "asr.protected_item"
PLAN_KIND = "asr.recovery_plan"
NETWORK_KIND = "azure.virtual_network"


class BadSelector(ValueError):
    """A ``--target`` that names no tenant or site of the specs (the message says which, and the choices)."""


@dataclass(frozen=True, slots=True)
class DrillTarget:
    resource: Resource  # a recovery plan or one protected VM
    vms: tuple[Resource, ...]  # its protected items, in failover order

    @property
    def address(self) -> Address:
        return self.resource.address


@dataclass(frozen=True, slots=True)
class TenantPlan:
    tenant: str
    site: str
    network: Resource | None  # the drill's test network (None: the tenant's spec names none)
    production: tuple[str, ...]  # the production failover networks (the recovery VNet, the mapped networks)
    targets: tuple[DrillTarget, ...]
    policy: rpo.RpoPolicy | None
    problem: str = ""  # why the tenant cannot be drilled as specified (with the fix), if it cannot

    @property
    def scope(self) -> str:
        return f"tenant/{self.tenant}"

    def reads(self) -> list[Resource]:
        """What the drill reads before it starts: the drill network and the production VNet's peers aside, every
        protected VM and recovery plan it fails over."""
        seen: dict[Address, Resource] = {}
        for target in self.targets:
            seen.setdefault(target.address, target.resource)
            for vm in target.vms:
                seen.setdefault(vm.address, vm)
        if self.network is not None:
            seen.setdefault(self.network.address, self.network)
        return list(seen.values())


def select(specs: SpecSet, selectors: Sequence[str]) -> list[str]:
    """The tenants ``selectors`` choose (all with disaster recovery when none), by name; :class:`BadSelector` for
    a selector that is not ``tenant/NAME`` or ``site/NAME`` of the specs."""
    tenants = {name.casefold(): name for name in specs.tenants}
    sites = {name.casefold(): name for name in specs.sites}
    if not selectors:
        return sorted(n for n, doc in specs.tenants.items() if doc.model.spec.recovery is not None)
    chosen: set[str] = set()
    for raw in selectors:
        kind, _, name = raw.strip().partition("/")
        if kind == "tenant" and name.casefold() in tenants:
            chosen.add(tenants[name.casefold()])
        elif kind == "site" and name.casefold() in sites:
            site = sites[name.casefold()]
            chosen |= {n for n, doc in specs.tenants.items() if doc.model.spec.site == site}
        elif kind in ("tenant", "site"):
            known = sorted(tenants.values() if kind == "tenant" else sites.values())
            raise BadSelector(f"--target {raw}: no {kind} {name!r} in the specs (known: {', '.join(known) or 'none'})")
        else:
            raise BadSelector(f"--target {raw}: a drill targets tenant/NAME or site/NAME")
    return sorted(chosen)


def _targets(items: Sequence[Resource], plans: Sequence[Resource]) -> tuple[DrillTarget, ...]:
    """Each recovery plan with its VMs group by group, then each protected VM no plan holds."""
    by_name = {r.address.name.casefold(): r for r in items}
    out: list[DrillTarget] = []
    held: set[str] = set()
    for plan in plans:
        names = [str(vm) for group in typed.of(plan, typed.RecoveryPlan).get("groups") or [] for vm in group]
        vms = tuple(by_name[n.casefold()] for n in names if n.casefold() in by_name)
        held |= {vm.address.name.casefold() for vm in vms}
        out.append(DrillTarget(plan, vms))
    out += [DrillTarget(r, (r,)) for r in items if r.address.name.casefold() not in held]
    return tuple(out)


def _problem(tenant: str, targets: tuple[DrillTarget, ...], network: Resource | None, has_drill: bool) -> str:
    if not targets:
        return f"tenant {tenant} protects no VM: nothing to fail over (set protect: true on its VMs)"
    if not has_drill or network is None:
        return (
            f"tenant {tenant} names no drill network: add `drill: {{}}` to spec.recovery (a test network the "
            "tool creates beside the recovery VNet, never peered) and apply, then drill again"
        )
    return ""


def plan_tenants(specs: SpecSet, resources: Iterable[Resource], selectors: Sequence[str]) -> list[TenantPlan]:
    """One plan per selected tenant with disaster recovery, by tenant name (``resources``: every resource the
    specs expand to); :class:`BadSelector` as :func:`select` raises it, or for a chosen tenant without recovery
    when it was named."""
    chosen = select(specs, selectors)
    everything = list(resources)
    policies = rpo.policies(everything)
    out: list[TenantPlan] = []
    for name in chosen:
        spec = specs.tenants[name].model.spec
        recovery = spec.recovery
        if recovery is None:
            if any(s.strip().casefold() == f"tenant/{name.casefold()}" for s in selectors):
                raise BadSelector(f"--target tenant/{name}: the tenant has no disaster recovery (spec.recovery)")
            continue
        mine = [r for r in everything if r.address.scope == name]
        items = [r for r in mine if r.kind == ITEM_KIND]
        plans = [r for r in mine if r.kind == PLAN_KIND]
        network_name = recovery.drill_network
        network = next(
            (
                r
                for r in mine
                if r.kind == NETWORK_KIND and network_name and r.address.name.casefold() == network_name.casefold()
            ),
            None,
        )
        targets = _targets(items, plans)
        production = (recovery.virtual_network.name, *(m.azure_network for m in recovery.network_mappings))
        out.append(
            TenantPlan(
                tenant=name,
                site=spec.site,
                network=network,
                production=tuple(dict.fromkeys(production)),
                targets=targets,
                policy=policies.get((name, recovery.policy.name.casefold())),
                problem=_problem(name, targets, network, recovery.drill is not None),
            )
        )
    return out


__all__ = ["BadSelector", "DrillTarget", "TenantPlan", "plan_tenants", "select"]
