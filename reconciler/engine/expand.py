"""Expand validated specs into desired resources with addresses and dependencies.

Each spec item becomes one resource per object the live systems hold (a logical network's sites and
pools are separate VMM objects; a tenant's recovery block is a resource group, a storage account, a
VNet, a policy, its association with the cloud, network mappings and protected items). The desired
dicts use the normalized shape providers read back, so the planner compares like with like.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import MaintenanceWindow, Resource, Rollout
from reconciler.engine import expand_recovery
from reconciler.engine.expand_base import res
from reconciler.spec import bios, resolve
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.power import PowerProfileDocument
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import TenantDocument, Vm

WINDOWS_PLANS = {"HighPerformance", "Balanced", "PowerSaver"}


def _site(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """A site's objects: its vault (and the vault's resource group), then the NVGRE chain in VMM's order."""
    yield from expand_recovery.site_recovery(doc)
    yield from _logical_networks(doc)
    yield from _port_profiles(doc)
    yield from _switches(doc)
    yield from _default_vm_network(doc)


def _logical_networks(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """Logical networks, their network sites (definitions) and the sites' static IP pools."""
    site = doc.name
    for i, ln in enumerate(doc.model.spec.logical_networks):
        ln_addr = Address("vmm.logical_network", site, ln.name)
        yield res(
            doc,
            ("spec", "logicalNetworks", i),
            ln_addr,
            typed.LogicalNetwork(name=ln.name, networkVirtualization=ln.network_virtualization),
            lifecycle=(ln.lifecycle,),
            site=site,
        )
        for j, ns in enumerate(ln.sites):
            ns_addr = Address("vmm.network_site", site, ns.name)
            yield res(
                doc,
                ("spec", "logicalNetworks", i, "sites", j),
                ns_addr,
                typed.NetworkSite(
                    name=ns.name,
                    logicalNetwork=ln.name,
                    hostGroups=list(ns.host_groups),
                    subnets=[{"subnet": sv.subnet, "vlan": sv.vlan} for sv in ns.subnets],
                ),
                ln_addr,
                lifecycle=(ln.lifecycle, ns.lifecycle),
                site=site,
            )
            for k, pool in enumerate(ns.ip_pools):
                yield res(
                    doc,
                    ("spec", "logicalNetworks", i, "sites", j, "ipPools", k),
                    Address("vmm.ip_pool", site, pool.name),
                    typed.IpPool(
                        name=pool.name,
                        networkSite=ns.name,
                        subnet=pool.subnet,
                        rangeStart=pool.range.start,
                        rangeEnd=pool.range.end,
                        gateway=pool.gateway,
                        dnsServers=list(pool.dns_servers),
                    ),
                    ns_addr,
                    lifecycle=(ln.lifecycle, ns.lifecycle, pool.lifecycle),
                    site=site,
                )


def _port_profiles(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """Uplink port profiles (on their network sites) and port classifications."""
    s, site = doc.model.spec, doc.name
    for i, up in enumerate(s.uplink_port_profiles):
        yield res(
            doc,
            ("spec", "uplinkPortProfiles", i),
            Address("vmm.uplink_port_profile", site, up.name),
            typed.UplinkPortProfile(
                name=up.name,
                networkSites=list(up.sites),
                networkVirtualization=up.network_virtualization,
                teamingMode=up.teaming.mode.value,
                loadBalancing=up.teaming.load_balancing.value,
            ),
            *(Address("vmm.network_site", site, n) for n in up.sites),
            lifecycle=(up.lifecycle,),
            site=site,
        )
    for i, pc in enumerate(s.port_classifications):
        yield res(
            doc,
            ("spec", "portClassifications", i),
            Address("vmm.port_classification", site, pc.name),
            typed.PortClassification(
                name=pc.name,
                description=pc.description,
                dhcpGuard=pc.dhcp_guard,
                routerGuard=pc.router_guard,
                macSpoofing=pc.mac_spoofing,
            ),
            lifecycle=(pc.lifecycle,),
            site=site,
        )


def _switches(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """Logical switches with their uplink port profile sets, and each switch on each of its hosts."""
    site = doc.name
    for i, sw in enumerate(doc.model.spec.logical_switches):
        sw_addr = Address("vmm.logical_switch", site, sw.name)
        yield res(
            doc,
            ("spec", "logicalSwitches", i),
            sw_addr,
            typed.LogicalSwitch(
                name=sw.name,
                uplinkMode=sw.uplink_mode.value,
                sriov=sw.sriov,
                uplinkPortProfiles=list(sw.uplink_port_profiles),
                portClassifications=list(sw.port_classifications),
            ),
            *(Address("vmm.uplink_port_profile", site, n) for n in sw.uplink_port_profiles),
            *(Address("vmm.port_classification", site, n) for n in sw.port_classifications),
            lifecycle=(sw.lifecycle,),
            site=site,
        )
        for j, host in enumerate(sw.hosts):
            yield res(
                doc,
                ("spec", "logicalSwitches", i, "hosts", j),
                Address("vmm.host_switch", site, f"{host}/{sw.name}"),
                typed.HostSwitch(host=host, logicalSwitch=sw.name),
                sw_addr,
                lifecycle=(sw.lifecycle,),
                site=site,
            )


def _default_vm_network(doc: SpecDocument[SiteDocument]) -> Iterator[Resource]:
    """The provider's default VM network, isolated with network virtualization."""
    d, site = doc.model.spec.default_vm_network, doc.name
    if d is None:
        return
    yield res(
        doc,
        ("spec", "defaultVmNetwork"),
        Address("vmm.vm_network", site, d.name),
        typed.VmNetwork(
            name=d.name,
            logicalNetwork=d.logical_network,
            isolation=d.isolation,
            subnets=[{"name": d.name, "subnet": d.subnet}],
        ),
        Address("vmm.logical_network", site, d.logical_network),
        *_pool_deps(doc.model, d.logical_network),
        lifecycle=(d.lifecycle,),
        site=site,
    )


def _pool_deps(site: SiteDocument, logical_network: str) -> Iterator[Address]:
    """A virtualized VM network needs the provider-address pools and uplinks of its logical network."""
    for ln in site.spec.logical_networks:
        if ln.name.lower() != logical_network.lower():
            continue
        names = {ns.name.lower() for ns in ln.sites}
        for ns in ln.sites:
            for pool in ns.ip_pools:
                yield Address("vmm.ip_pool", site.metadata.name, pool.name)
        for up in site.spec.uplink_port_profiles:
            if any(n.lower() in names for n in up.sites):
                yield Address("vmm.uplink_port_profile", site.metadata.name, up.name)


def _memory_desired(vm: Vm, specs: SpecSet) -> typed.VmMemory | None:
    settings = resolve.vm_memory(vm, specs)
    eff = resolve.effective_memory(settings) if settings is not None else None
    if eff is None:
        return None
    return typed.VmMemory(
        dynamic=eff.dynamic,
        startup=eff.startup,
        minimum=eff.minimum,
        maximum=eff.maximum,
        bufferPercent=eff.buffer_percent,
        priority=eff.priority,
    )


def _tenant(doc: SpecDocument[TenantDocument], specs: SpecSet) -> Iterator[Resource]:
    t = doc.model.spec
    scope = doc.name
    site_doc = specs.sites[t.site]
    site = site_doc.name

    def a(kind: str, name: str) -> Address:
        return Address(kind, scope, name)

    def s(kind: str, name: str) -> Address:
        return Address(kind, site, name)

    pools: dict[str, tuple[Address, ...]] = {}

    def pool_deps(logical_network: str) -> tuple[Address, ...]:
        if logical_network not in pools:
            pools[logical_network] = tuple(_pool_deps(site_doc.model, logical_network))
        return pools[logical_network]

    memory = [_memory_desired(vm, specs) for vm in t.vms]
    cloud_addr = a("vmm.cloud", t.cloud.name)
    cloud = typed.Cloud(
        name=t.cloud.name, hostGroups=list(t.cloud.host_groups), logicalNetworks=list(t.cloud.logical_networks)
    )
    if t.cloud.capacity is not None:
        cloud["capacity"] = t.cloud.capacity.model_dump(by_alias=True, exclude_none=True)
    yield res(
        doc,
        ("spec", "cloud"),
        cloud_addr,
        cloud,
        *(s("vmm.logical_network", n) for n in t.cloud.logical_networks),
        lifecycle=(t.cloud.lifecycle,),
        site=site,
        tenant=scope,
    )
    for i, net in enumerate(t.vm_networks):
        yield res(
            doc,
            ("spec", "vmNetworks", i),
            a("vmm.vm_network", net.name),
            typed.VmNetwork(
                name=net.name,
                logicalNetwork=net.logical_network,
                isolation=net.isolation.value,
                subnets=[{"name": sn.name, "subnet": sn.subnet} for sn in net.subnets],
            ),
            s("vmm.logical_network", net.logical_network),
            *pool_deps(net.logical_network),
            cloud_addr,
            lifecycle=(net.lifecycle,),
            site=site,
            tenant=scope,
        )
    for i, (vm, wanted) in enumerate(zip(t.vms, memory, strict=True)):
        if wanted is not None:
            yield res(
                doc,
                ("spec", "vms", i),
                a("hyperv.vm_memory", vm.name),
                wanted,
                lifecycle=(vm.lifecycle,),
                prefix="memory",
                site=site,
                tenant=scope,
            )
    if t.recovery is not None:
        vm_memory = {vm.name: a("hyperv.vm_memory", vm.name) for vm, m in zip(t.vms, memory, strict=True) if m}
        yield from expand_recovery.tenant_recovery(doc, specs, cloud=cloud_addr, vm_memory=vm_memory)


def _rollout(doc: SpecDocument[PowerProfileDocument]) -> Rollout:
    r = doc.model.spec.rollout
    w = r.maintenance_window
    window = (
        MaintenanceWindow(days=tuple(w.days), start=w.start, duration_s=w.duration, timezone=w.timezone)
        if w is not None
        else None
    )
    return Rollout(group=f"power/{doc.name}", max_unavailable=r.max_unavailable, window=window)


def _power(doc: SpecDocument[PowerProfileDocument], specs: SpecSet) -> Iterator[Resource]:
    p = doc.model.spec
    site = p.site
    rollout = _rollout(doc)
    for host in resolve.profile_hosts(doc.model, specs):
        if p.bios is not None and host.bmc is not None:
            if p.bios.profile is not None:
                attributes = {
                    k: str(v) for k, v in (bios.attributes_for(host.bmc.vendor, p.bios.profile) or {}).items()
                }
            else:
                attributes = {k: str(v) for k, v in (p.bios.attributes or {}).items()}
            bios_resource = res(
                doc,
                ("spec", "bios"),
                Address("bmc.bios", site, host.name),
                typed.Bios(vendor=host.bmc.vendor.value, attributes=attributes),
                lifecycle=(host.lifecycle, p.bios.lifecycle),
                site=site,
            )
            yield dataclasses.replace(bios_resource, policy=dataclasses.replace(bios_resource.policy, rollout=rollout))
        if p.hypervisor is not None:
            setting = (
                typed.PowerPolicy(platform="hyperv", powerPlan=p.hypervisor.power_plan.value)
                if host.platform.value == "hyperv" and p.hypervisor.power_plan is not None
                else typed.PowerPolicy(platform="vsphere", policy=p.hypervisor.policy.value)
                if host.platform.value == "vsphere" and p.hypervisor.policy is not None
                else None
            )
            if setting is not None:
                yield res(
                    doc,
                    ("spec", "hypervisor"),
                    Address("host.power_policy", site, host.name),
                    setting,
                    lifecycle=(host.lifecycle, p.hypervisor.lifecycle),
                    site=site,
                )


def expand(specs: SpecSet) -> list[Resource]:
    """Every desired resource of a valid spec set, sites first, in dependency-friendly order."""
    out: list[Resource] = []
    for site in specs.sites.values():
        out.extend(_site(site))
    for tenant in specs.tenants.values():
        out.extend(_tenant(tenant, specs))
    for profile in specs.power_profiles.values():
        out.extend(_power(profile, specs))
    return out
