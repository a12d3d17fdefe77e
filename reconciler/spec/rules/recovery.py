"""A tenant's disaster recovery fits its site and its plan: region, VM sizes, policy timings, where replicas go,
its recovery plans (protected VMs only, once each, names unique in the site's vault), and a drill network apart
from production."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from reconciler.core.diagnostics import Diagnostic, Severity
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.resolve import recovery_region
from reconciler.spec.rules._names import Names


def _tenant(doc: SpecDocument[Any], specs: SpecSet) -> Iterator[Diagnostic]:
    spec = doc.model.spec
    recovery = spec.recovery
    plan_sizes = Names(spec.plan.allowed_vm_sizes)
    sizes_hint = (
        f"pick one of the plan's sizes ({', '.join(spec.plan.allowed_vm_sizes)}), "
        "or allow this one in spec.plan.allowedVmSizes"
    )
    if recovery is None:
        for i, vm in enumerate(spec.vms):
            if vm.protect:
                yield doc.diagnostic(
                    "recovery.missing",
                    ("spec", "vms", i, "protect"),
                    f"VM {vm.name!r} is to be protected but the tenant has no recovery block",
                    hint="add spec.recovery (resource group, storage account, virtual network, policy)",
                )
        return
    site = specs.sites.get(spec.site)
    if site is not None and recovery.location is not None:
        vault = site.model.spec.recovery_vault
        if recovery.location.lower() != vault.location.lower():
            yield doc.diagnostic(
                "tenant.region-mismatch",
                ("spec", "recovery", "location"),
                f"recovery region {recovery.location!r} differs from the vault's region {vault.location!r}",
                hint=f"the storage account must be in the vault's region: use {vault.location!r} or omit location",
            )
    region = recovery_region(doc.model, specs)
    if region is not None and region not in Names(spec.plan.allowed_regions):
        path = ("spec", "recovery", "location") if recovery.location else ("spec", "site")
        source = "" if recovery.location else f", the region of the vault of site {spec.site!r},"
        yield doc.diagnostic(
            "tenant.region-not-allowed",
            path,
            f"the recovery region {region!r}{source} is not in the plan's allowed regions "
            f"({', '.join(spec.plan.allowed_regions)})",
            hint=f"add {region!r} to spec.plan.allowedRegions or choose a site whose vault is in an allowed region",
        )
    if recovery.default_target_vm_size not in plan_sizes:
        yield doc.diagnostic(
            "tenant.vm-size-not-allowed",
            ("spec", "recovery", "defaultTargetVmSize"),
            f"VM size {recovery.default_target_vm_size!r} is not in the plan's allowed sizes",
            hint=sizes_hint,
        )
    for i, vm in enumerate(spec.vms):
        if vm.target_vm_size is not None and vm.target_vm_size not in plan_sizes:
            yield doc.diagnostic(
                "tenant.vm-size-not-allowed",
                ("spec", "vms", i, "targetVmSize"),
                f"VM size {vm.target_vm_size!r} is not in the plan's allowed sizes",
                hint=sizes_hint,
            )
    policy = recovery.policy
    if policy.recovery_point_hours > 0 and policy.app_consistent_snapshot_hours > policy.recovery_point_hours:
        yield doc.diagnostic(
            "policy.snapshot-exceeds-retention",
            ("spec", "recovery", "policy", "appConsistentSnapshotHours"),
            f"app-consistent snapshots every {policy.app_consistent_snapshot_hours} h exceed the "
            f"{policy.recovery_point_hours} h of recovery points kept",
            hint=f"set appConsistentSnapshotHours to at most {policy.recovery_point_hours}, "
            "or keep recovery points longer (recoveryPointHours)",
        )
    if any(vm.protect for vm in spec.vms) and not recovery.network_mappings:
        yield doc.diagnostic(
            "recovery.no-network-mapping",
            ("spec", "recovery"),
            "VMs are protected but no network mapping is declared: failed-over VMs will have no network",
            hint="map each VM network to the recovery VNet in spec.recovery.networkMappings",
            severity=Severity.WARNING,
            key=True,
        )


def _replicas(doc: SpecDocument[Any]) -> Iterator[Diagnostic]:
    recovery = doc.model.spec.recovery
    if recovery is None or recovery.disk_type is None or recovery.replicate_to.value == "ManagedDisks":
        return
    yield doc.diagnostic(
        "recovery.disk-type-needs-managed-disks",
        ("spec", "recovery", "diskType"),
        f"diskType {recovery.disk_type.value!r} applies to replication to managed disks, but replicateTo is "
        "StorageAccount",
        hint="remove diskType, or replicate to managed disks (replicateTo: ManagedDisks, the default)",
    )


def _drill(doc: SpecDocument[Any]) -> Iterator[Diagnostic]:
    """A drill's test network is a network of its own: never the recovery VNet or a network VMs fail over into."""
    recovery = doc.model.spec.recovery
    if recovery is None or recovery.drill is None:
        return
    name = recovery.drill_network or ""
    production = Names([recovery.virtual_network.name, *(m.azure_network for m in recovery.network_mappings)])
    if name in production:
        path = ("spec", "recovery", "drill", "network") if recovery.drill.network else ("spec", "recovery", "drill")
        yield doc.diagnostic(
            "recovery.drill-network-is-production",
            path,
            f"the drill's test network {name!r} is a production failover network: a test failover there would put "
            "test VMs beside the production recovery VMs",
            hint="name a network of its own in spec.recovery.drill.network, or leave it out for the default "
            f"{recovery.virtual_network.name}-drill",
        )


def _plans(doc: SpecDocument[Any]) -> Iterator[Diagnostic]:
    """Each VM of a recovery plan is a protected VM of the tenant, in one group of the plan only."""
    spec = doc.model.spec
    if spec.recovery is None:
        return
    protected = Names(vm.name for vm in spec.vms if vm.protect)
    for i, plan in enumerate(spec.recovery.plans):
        seen: set[str] = set()
        for j, group in enumerate(plan.groups):
            for k, vm in enumerate(group.vms):
                path = ("spec", "recovery", "plans", i, "groups", j, "vms", k)
                if vm not in protected:
                    yield doc.diagnostic(
                        "recovery.plan-vm-not-protected",
                        path,
                        f"recovery plan {plan.name!r} names VM {vm!r}, which the tenant does not protect",
                        hint=f"set protect: true on VM {vm!r} in spec.vms, or take it out of the plan",
                    )
                if vm.casefold() in seen:
                    yield doc.diagnostic(
                        "recovery.plan-duplicate-vm",
                        path,
                        f"VM {vm!r} is in recovery plan {plan.name!r} twice: a VM fails over in one group",
                        hint="keep it in the one group it should boot with",
                    )
                seen.add(vm.casefold())


def _plan_names(specs: SpecSet) -> Iterator[Diagnostic]:
    """Recovery plans live in the site's vault: their names are unique per site, across its tenants."""
    first: dict[tuple[str, str], str] = {}
    for doc in specs.tenants.values():
        spec = doc.model.spec
        if spec.recovery is None:
            continue
        for i, plan in enumerate(spec.recovery.plans):
            key = (spec.site, plan.name.casefold())
            if key not in first:
                first[key] = doc.name
                continue
            yield doc.diagnostic(
                "recovery.plan-duplicate-name",
                ("spec", "recovery", "plans", i, "name"),
                f"recovery plan {plan.name!r} is already declared in the vault of site {spec.site!r} (by tenant "
                f"{first[key]!r})",
                hint="recovery plans share the site's vault: give each a name of its own (prefix the tenant's)",
            )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    for tenant in specs.tenants.values():
        yield from _tenant(tenant, specs)
        yield from _replicas(tenant)
        yield from _drill(tenant)
        yield from _plans(tenant)
    yield from _plan_names(specs)
