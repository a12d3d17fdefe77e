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
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine.expand_base import res
from reconciler.spec import resolve
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import DiskType, ReplicaTarget, TenantDocument, TenantSpec, Vm


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
        {"subscriptionId": v.subscription_id, "name": v.resource_group, "location": v.location},
        lifecycle=(v.lifecycle,),
        site=site,
    )
    vault_addr = Address("asr.vault", site, v.name)
    yield res(
        doc,
        ("spec", "recoveryVault"),
        vault_addr,
        {
            "subscriptionId": v.subscription_id,
            "resourceGroup": v.resource_group,
            "name": v.name,
            "location": v.location,
            "sku": "Standard",
        },
        rg_addr,
        lifecycle=(v.lifecycle,),
        site=site,
    )
    yield res(
        doc,
        ("spec", "vmm", "server"),
        registration_address(doc),
        {"server": doc.model.spec.vmm.server, "vault": v.name},
        vault_addr,
        site=site,
    )


def _protected_item(t: TenantSpec, vm: Vm, *, first_subnet: str, replica: Mapping[str, Any]) -> dict[str, Any]:
    r = t.recovery
    assert r is not None
    desired: dict[str, Any] = {
        "vm": vm.name,
        "cloud": t.cloud.name,
        "policy": r.policy.name,
        "storageAccount": r.storage_account.name,
        "osType": vm.os_type.value,
        "targetVmSize": vm.target_vm_size or r.default_target_vm_size,
        "targetResourceGroup": r.resource_group,
        "targetNetwork": r.virtual_network.name,
        "targetSubnet": first_subnet,
        **replica,
    }
    if vm.os_disk is not None:
        desired["osDisk"] = vm.os_disk  # what enable protection needs; ASR does not keep it (the handler fills it)
    return desired


def _replica_fields(t: TenantSpec) -> dict[str, Any]:
    """Where the tenant's VMs replicate: managed disks (of a disk type) or the storage account."""
    r = t.recovery
    assert r is not None
    if r.replicate_to is ReplicaTarget.MANAGED_DISKS:
        return {"replicateTo": r.replicate_to.value, "diskType": (r.disk_type or DiskType.STANDARD_LRS).value}
    return {"replicateTo": r.replicate_to.value}


def tenant_recovery(
    doc: SpecDocument[TenantDocument], specs: SpecSet, *, cloud: Address, vm_memory: Mapping[str, Address]
) -> Iterator[Resource]:
    """A tenant's recovery resources; ``vm_memory``: the memory resource of each VM that has one (protection
    waits for it, and is blocked when the VM does not exist)."""
    t = doc.model.spec
    r = t.recovery
    assert r is not None
    scope = doc.name
    site_doc = specs.sites[t.site]
    site = site_doc.name
    vault = site_doc.model.spec.recovery_vault
    registration = registration_address(site_doc)

    def a(kind: str, name: str) -> Address:
        return Address(kind, scope, name)

    vault_addr = Address("asr.vault", site, vault.name)
    sub = t.plan.azure.subscription_id
    region = resolve.recovery_region(doc.model, specs) or vault.location
    rg_addr = a("azure.resource_group", r.resource_group)
    yield res(
        doc,
        ("spec", "recovery", "resourceGroup"),
        rg_addr,
        {"subscriptionId": sub, "name": r.resource_group, "location": region},
        site=site,
        tenant=scope,
    )
    sa_addr = a("azure.storage_account", r.storage_account.name)
    yield res(
        doc,
        ("spec", "recovery", "storageAccount"),
        sa_addr,
        {
            "subscriptionId": sub,
            "resourceGroup": r.resource_group,
            "name": r.storage_account.name,
            "location": region,
            "sku": r.storage_account.sku.value,
        },
        rg_addr,
        vault_addr,
        lifecycle=(r.storage_account.lifecycle,),
        site=site,
        tenant=scope,
    )
    vn = r.virtual_network
    vn_addr = a("azure.virtual_network", vn.name)
    yield res(
        doc,
        ("spec", "recovery", "virtualNetwork"),
        vn_addr,
        {
            "subscriptionId": sub,
            "resourceGroup": r.resource_group,
            "name": vn.name,
            "location": region,
            "addressSpace": list(vn.address_space),
            "subnets": [{"name": sn.name, "prefix": sn.prefix} for sn in vn.subnets],
        },
        rg_addr,
        lifecycle=(vn.lifecycle,),
        site=site,
        tenant=scope,
    )
    p = r.policy
    policy_addr = a("asr.replication_policy", p.name)
    policy: dict[str, Any] = {
        "vault": vault.name,
        "name": p.name,
        "replicationIntervalSeconds": p.replication_interval_seconds,
        "recoveryPointHours": p.recovery_point_hours,
        "appConsistentSnapshotHours": p.app_consistent_snapshot_hours,
        "storageAccount": r.storage_account.name,
    }
    if p.start_time is not None:
        policy["startTime"] = p.start_time
    yield res(
        doc,
        ("spec", "recovery", "policy"),
        policy_addr,
        policy,
        vault_addr,
        sa_addr,
        lifecycle=(p.lifecycle,),
        site=site,
        tenant=scope,
    )
    assoc_addr = a("asr.policy_association", t.cloud.name)
    yield res(
        doc,
        ("spec", "recovery", "policy"),
        assoc_addr,
        {"cloud": t.cloud.name, "policy": p.name},
        policy_addr,
        cloud,
        registration,
        lifecycle=(p.lifecycle,),
        site=site,
        tenant=scope,
    )
    mapping_addrs = []
    for i, m in enumerate(r.network_mappings):
        m_addr = a("asr.network_mapping", m.vm_network)
        mapping_addrs.append(m_addr)
        yield res(
            doc,
            ("spec", "recovery", "networkMappings", i),
            m_addr,
            {
                "vmNetwork": m.vm_network,
                "azureSubscriptionId": sub,
                "azureResourceGroup": r.resource_group,
                "azureNetwork": m.azure_network,
                "azureSubnet": m.azure_subnet,
            },
            a("vmm.vm_network", m.vm_network),
            vn_addr,
            vault_addr,
            registration,
            assoc_addr,  # the seed's order: the cloud is paired with its policy before its networks are mapped
            lifecycle=(m.lifecycle,),
            site=site,
            tenant=scope,
        )
    first_subnet = r.network_mappings[0].azure_subnet if r.network_mappings else vn.subnets[0].name
    replica = _replica_fields(t)
    protected: dict[str, Address] = {}
    for i, vm in enumerate(t.vms):
        if not vm.protect:
            continue
        item_addr = protected[vm.name.casefold()] = a("asr.protected_item", vm.name)
        memory = (vm_memory[vm.name],) if vm.name in vm_memory else ()
        yield res(
            doc,
            ("spec", "vms", i),
            item_addr,
            _protected_item(t, vm, first_subnet=first_subnet, replica=replica),
            assoc_addr,
            *mapping_addrs,
            sa_addr,
            *memory,
            lifecycle=(vm.lifecycle,),
            prefix="protection",
            site=site,
            tenant=scope,
        )
    for i, plan in enumerate(r.plans):
        groups = [sorted(group.vms, key=str.casefold) for group in plan.groups]  # a group has no order
        members = [protected[vm.casefold()] for group in groups for vm in group if vm.casefold() in protected]
        yield res(
            doc,
            ("spec", "recovery", "plans", i),
            a("asr.recovery_plan", plan.name),
            {"name": plan.name, "groups": groups},
            registration,
            *members,
            lifecycle=(plan.lifecycle,),
            site=site,
            tenant=scope,
        )
