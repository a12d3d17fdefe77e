"""Expand disaster recovery to Azure: the site's side (the vault's resource group, the vault, the VMM server's
registration with it) and each tenant's (resource group, storage account, VNet, policy, its association with
the cloud, network mappings, protected VMs, recovery plans), in the order ASR needs them.

The order, as the seed sets it up: the vault's resource group, the vault, the VMM server registered with it
(by hand: the tool can only check it); per tenant, its resource group, storage account and VNet; the policy;
its association with the tenant's cloud; then the network mappings; then protection per VM; then the recovery
plans grouping the protected VMs. Every ASR object that lives under the VMM server's fabric (associations,
network mappings, and so protected items and plans) depends on the registration, so a server that is not
registered is a plan error naming the fix, not a failed apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine.expand_base import res
from reconciler.spec import resolve
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import DiskType, Recovery, ReplicaTarget, TenantDocument, TenantSpec, Vm
from reconciler.spec.yamlsource import FieldPath


def registration_address(site: SpecDocument[SiteDocument]) -> Address:
    """The VMM server's registration with the site's vault."""
    return Address("asr.vmm_server", site.name, site.model.spec.vmm.server)


def site_recovery(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """The vault's resource group, the vault, and the VMM server's registration with it."""
    site = doc.name
    v = doc.model.spec.recovery_vault
    rg_addr = Address("azure.resource_group", site, v.resource_group)
    yield res(
        doc,
        ("spec", "recoveryVault", "resourceGroup"),
        rg_addr,
        typed.ResourceGroup(subscriptionId=v.subscription_id, name=v.resource_group, location=v.location),
        lifecycle=(v.lifecycle,),
        site=site,
    )
    vault_addr = Address("asr.vault", site, v.name)
    yield res(
        doc,
        ("spec", "recoveryVault"),
        vault_addr,
        typed.Vault(
            subscriptionId=v.subscription_id,
            resourceGroup=v.resource_group,
            name=v.name,
            location=v.location,
            sku="Standard",
        ),
        rg_addr,
        lifecycle=(v.lifecycle,),
        site=site,
    )
    yield res(
        doc,
        ("spec", "vmm", "server"),
        registration_address(doc),
        typed.VmmServer(server=doc.model.spec.vmm.server, vault=v.name),
        vault_addr,
        site=site,
    )


def _protected_item(t: TenantSpec, vm: Vm, *, first_subnet: str) -> typed.ProtectedItem:
    r = t.recovery
    assert r is not None
    desired = typed.ProtectedItem(
        vm=vm.name,
        cloud=t.cloud.name,
        policy=r.policy.name,
        storageAccount=r.storage_account.name,
        osType=vm.os_type.value,
        targetVmSize=vm.target_vm_size or r.default_target_vm_size,
        targetResourceGroup=r.resource_group,
        targetNetwork=r.virtual_network.name,
        targetSubnet=first_subnet,
        replicateTo=r.replicate_to.value,
    )
    if r.replicate_to is ReplicaTarget.MANAGED_DISKS:  # replicas on managed disks of a type (the default)
        desired["diskType"] = (r.disk_type or DiskType.STANDARD_LRS).value
    if vm.os_disk is not None:
        desired["osDisk"] = vm.os_disk  # what enable protection needs; ASR does not keep it (the handler fills it)
    return desired


@dataclass(frozen=True)
class _Tenant:
    """What every part of a tenant's recovery expansion shares."""

    doc: SpecDocument[TenantDocument]
    recovery: Recovery
    site: str
    vault: str  # the site's vault's name
    registration: Address
    subscription: str
    region: str

    @property
    def scope(self) -> str:
        return self.doc.name

    def a(self, kind: str, name: str) -> Address:
        return Address(kind, self.scope, name)

    @property
    def vault_address(self) -> Address:
        return Address("asr.vault", self.site, self.vault)

    def res(
        self, path: FieldPath, address: Address, desired: Mapping[str, object], *deps: Address, **kw: Any
    ) -> Resource:
        return res(self.doc, path, address, desired, *deps, site=self.site, tenant=self.scope, **kw)


def _tenant_side(t: _Tenant) -> Iterator[Resource]:
    """The tenant's resource group, and in it the storage account and the virtual network."""
    r, sub = t.recovery, t.subscription
    rg_addr = t.a("azure.resource_group", r.resource_group)
    yield t.res(
        ("spec", "recovery", "resourceGroup"),
        rg_addr,
        typed.ResourceGroup(subscriptionId=sub, name=r.resource_group, location=t.region),
        lifecycle=(r.lifecycle,),
    )
    yield t.res(
        ("spec", "recovery", "storageAccount"),
        t.a("azure.storage_account", r.storage_account.name),
        typed.StorageAccount(
            subscriptionId=sub,
            resourceGroup=r.resource_group,
            name=r.storage_account.name,
            location=t.region,
            sku=r.storage_account.sku.value,
        ),
        rg_addr,
        t.vault_address,
        lifecycle=(r.storage_account.lifecycle,),
    )
    vn = r.virtual_network
    yield t.res(
        ("spec", "recovery", "virtualNetwork"),
        t.a("azure.virtual_network", vn.name),
        typed.VirtualNetwork(
            subscriptionId=sub,
            resourceGroup=r.resource_group,
            name=vn.name,
            location=t.region,
            addressSpace=list(vn.address_space),
            subnets=[{"name": sn.name, "prefix": sn.prefix} for sn in vn.subnets],
        ),
        rg_addr,
        lifecycle=(vn.lifecycle,),
    )
    drill = r.drill_network
    if r.drill is not None and drill is not None:
        # The drills' test network mirrors the recovery VNet (same address space, same subnet names and prefixes:
        # a test VM lands in the subnet named like its failover subnet, with the address it would have), and no
        # peering: it is isolated from production by being a network of its own (docs/drills.md).
        yield t.res(
            ("spec", "recovery", "drill"),
            t.a("azure.virtual_network", drill),
            typed.VirtualNetwork(
                subscriptionId=sub,
                resourceGroup=r.resource_group,
                name=drill,
                location=t.region,
                addressSpace=list(vn.address_space),
                subnets=[{"name": sn.name, "prefix": sn.prefix} for sn in vn.subnets],
            ),
            rg_addr,
            lifecycle=(r.drill.lifecycle,),
        )


def _policy(t: _Tenant, cloud: Address) -> Iterator[Resource]:
    """The replication policy and its association with the tenant's cloud."""
    r, p = t.recovery, t.recovery.policy
    policy_addr = t.a("asr.replication_policy", p.name)
    policy = typed.ReplicationPolicy(
        vault=t.vault,
        name=p.name,
        replicationIntervalSeconds=p.replication_interval_seconds,
        recoveryPointHours=p.recovery_point_hours,
        appConsistentSnapshotHours=p.app_consistent_snapshot_hours,
        storageAccount=r.storage_account.name,
    )
    if p.start_time is not None:
        policy["startTime"] = p.start_time
    yield t.res(
        ("spec", "recovery", "policy"),
        policy_addr,
        policy,
        t.vault_address,
        t.a("azure.storage_account", r.storage_account.name),
        lifecycle=(p.lifecycle,),
    )
    yield t.res(
        ("spec", "recovery", "policy"),
        t.a("asr.policy_association", cloud.name),
        typed.PolicyAssociation(cloud=cloud.name, policy=p.name),
        policy_addr,
        cloud,
        t.registration,
        lifecycle=(p.lifecycle,),
    )


def _mappings(t: _Tenant, association: Address) -> Iterator[Resource]:
    """The network mappings: after the cloud is paired with its policy (the seed's order)."""
    r = t.recovery
    for i, m in enumerate(r.network_mappings):
        yield t.res(
            ("spec", "recovery", "networkMappings", i),
            t.a("asr.network_mapping", m.vm_network),
            typed.NetworkMapping(
                vmNetwork=m.vm_network,
                azureSubscriptionId=t.subscription,
                azureResourceGroup=r.resource_group,
                azureNetwork=m.azure_network,
                azureSubnet=m.azure_subnet,
            ),
            t.a("vmm.vm_network", m.vm_network),
            t.a("azure.virtual_network", r.virtual_network.name),
            t.vault_address,
            t.registration,
            association,
            lifecycle=(m.lifecycle,),
        )


def _protection(t: _Tenant, association: Address, vm_memory: Mapping[str, Address]) -> Iterator[Resource]:
    """One protected item per VM the spec protects, after the association, mappings and storage account."""
    spec, r = t.doc.model.spec, t.recovery
    mappings = [t.a("asr.network_mapping", m.vm_network) for m in r.network_mappings]
    first_subnet = r.network_mappings[0].azure_subnet if r.network_mappings else r.virtual_network.subnets[0].name
    for i, vm in enumerate(spec.vms):
        if not vm.protect:
            continue
        memory = (vm_memory[vm.name],) if vm.name in vm_memory else ()
        yield t.res(
            ("spec", "vms", i),
            t.a("asr.protected_item", vm.name),
            _protected_item(spec, vm, first_subnet=first_subnet),
            association,
            *mappings,
            t.a("azure.storage_account", r.storage_account.name),
            *memory,
            lifecycle=(vm.lifecycle,),
            prefix="protection",
        )


def _plans(t: _Tenant) -> Iterator[Resource]:
    """The recovery plans, after the VMs they hold (the spec's rules make each a protected VM)."""
    protected = {vm.name.casefold(): t.a("asr.protected_item", vm.name) for vm in t.doc.model.spec.vms if vm.protect}
    for i, plan in enumerate(t.recovery.plans):
        groups = [sorted(group.vms, key=str.casefold) for group in plan.groups]  # a group has no order
        members = [protected[vm.casefold()] for group in groups for vm in group if vm.casefold() in protected]
        yield t.res(
            ("spec", "recovery", "plans", i),
            t.a("asr.recovery_plan", plan.name),
            typed.RecoveryPlan(name=plan.name, groups=groups),
            t.registration,
            *members,
            lifecycle=(plan.lifecycle,),
        )


def tenant_recovery(
    doc: SpecDocument[TenantDocument], specs: SpecSet, *, cloud: Address, vm_memory: Mapping[str, Address]
) -> Iterator[Resource]:
    """A tenant's recovery resources, in the seed's order; ``vm_memory``: the memory resource of each VM that
    has one (protection waits for it, and is blocked when the VM does not exist)."""
    spec = doc.model.spec
    assert spec.recovery is not None
    site_doc = specs.sites[spec.site]
    vault = site_doc.model.spec.recovery_vault
    t = _Tenant(
        doc=doc,
        recovery=spec.recovery,
        site=site_doc.name,
        vault=vault.name,
        registration=registration_address(site_doc),
        subscription=spec.plan.azure.subscription_id,
        region=resolve.recovery_region(doc.model, specs) or vault.location,
    )
    association = t.a("asr.policy_association", cloud.name)
    yield from _tenant_side(t)
    yield from _policy(t, cloud)
    yield from _mappings(t, association)
    yield from _protection(t, association, vm_memory)
    yield from _plans(t)
