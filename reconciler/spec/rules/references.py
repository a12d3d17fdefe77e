"""Every reference by name resolves: inside a site, tenant to site, VM to memory profile, mapping to VM
network and Azure subnet, power profile to site and hosts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.site import Platform, SiteDocument
from reconciler.spec.rules._names import Names
from reconciler.spec.yamlsource import FieldPath


def missing(
    doc: SpecDocument[Any], wanted: Sequence[str], known: Names, path: FieldPath, *, code: str, what: str
) -> Iterator[Diagnostic]:
    """A diagnostic for each name in ``wanted`` (a list at ``path``) that ``known`` lacks."""
    for i, name in enumerate(wanted):
        if name not in known:
            yield doc.diagnostic(code, (*path, i), f"{what} {name!r} is not defined", hint=known.hint(name, f"{what}s"))


def missing_one(
    doc: SpecDocument[Any], name: str, known: Names, path: FieldPath, *, code: str, what: str, where: str = ""
) -> Iterator[Diagnostic]:
    if name not in known:
        suffix = f" {where}" if where else ""
        yield doc.diagnostic(code, path, f"{what} {name!r} is not defined{suffix}", hint=known.hint(name, f"{what}s"))


def network_site_names(site: SiteDocument) -> Names:
    return Names(s.name for ln in site.spec.logical_networks for s in ln.sites)


def _site(doc: SpecDocument[SiteDocument]) -> Iterator[Diagnostic]:
    spec = doc.model.spec
    groups = Names(spec.host_groups)
    hosts = Names(h.name for h in spec.hosts)
    logical = Names(ln.name for ln in spec.logical_networks)
    for i, host in enumerate(spec.hosts):
        yield from missing_one(
            doc,
            host.host_group,
            groups,
            ("spec", "hosts", i, "hostGroup"),
            code="ref.host-group-not-found",
            what="host group",
        )
        if host.platform is Platform.VSPHERE and spec.vcenter is None:
            yield doc.diagnostic(
                "site.vsphere-needs-vcenter",
                ("spec", "hosts", i, "platform"),
                f"host {host.name!r} is a vSphere host but the site has no vcenter endpoint",
                hint="add spec.vcenter: {server: vcenter.example.int}",
            )
    for i, ln in enumerate(spec.logical_networks):
        for j, site in enumerate(ln.sites):
            yield from missing(
                doc,
                site.host_groups,
                groups,
                ("spec", "logicalNetworks", i, "sites", j, "hostGroups"),
                code="ref.host-group-not-found",
                what="host group",
            )
    sites = network_site_names(doc.model)
    for i, uplink in enumerate(spec.uplink_port_profiles):
        yield from missing(
            doc,
            uplink.sites,
            sites,
            ("spec", "uplinkPortProfiles", i, "sites"),
            code="ref.network-site-not-found",
            what="network site",
        )
    uplinks = Names(u.name for u in spec.uplink_port_profiles)
    classes = Names(c.name for c in spec.port_classifications)
    for i, switch in enumerate(spec.logical_switches):
        base: FieldPath = ("spec", "logicalSwitches", i)
        yield from missing(
            doc,
            switch.uplink_port_profiles,
            uplinks,
            (*base, "uplinkPortProfiles"),
            code="ref.uplink-profile-not-found",
            what="uplink port profile",
        )
        yield from missing(
            doc,
            switch.port_classifications,
            classes,
            (*base, "portClassifications"),
            code="ref.port-classification-not-found",
            what="port classification",
        )
        yield from missing(doc, switch.hosts, hosts, (*base, "hosts"), code="ref.host-not-found", what="host")
    if spec.default_vm_network is not None:
        yield from missing_one(
            doc,
            spec.default_vm_network.logical_network,
            logical,
            ("spec", "defaultVmNetwork", "logicalNetwork"),
            code="ref.logical-network-not-found",
            what="logical network",
        )


def _tenant(doc: SpecDocument[Any], specs: SpecSet) -> Iterator[Diagnostic]:
    spec = doc.model.spec
    site_doc = specs.sites.get(spec.site)
    if site_doc is None:
        yield from missing_one(
            doc, spec.site, Names(specs.known_names("Site")), ("spec", "site"), code="ref.site-not-found", what="site"
        )
    else:
        yield from _tenant_on_site(doc, site_doc.model.spec)
    profiles = Names(specs.known_names("MemoryProfile"))
    for i, vm in enumerate(spec.vms):
        if vm.memory_profile is not None:
            yield from missing_one(
                doc,
                vm.memory_profile,
                profiles,
                ("spec", "vms", i, "memoryProfile"),
                code="ref.memory-profile-not-found",
                what="memory profile",
            )
    if spec.recovery is not None:
        yield from _network_mappings(doc)


def _tenant_on_site(doc: SpecDocument[Any], site: Any) -> Iterator[Diagnostic]:
    """The tenant's cloud and VM networks use the site's host groups and logical networks."""
    spec = doc.model.spec
    logical = Names(ln.name for ln in site.logical_networks)
    yield from missing(
        doc,
        spec.cloud.host_groups,
        Names(site.host_groups),
        ("spec", "cloud", "hostGroups"),
        code="ref.host-group-not-found",
        what="host group",
    )
    yield from missing(
        doc,
        spec.cloud.logical_networks,
        logical,
        ("spec", "cloud", "logicalNetworks"),
        code="ref.logical-network-not-found",
        what="logical network",
    )
    in_cloud = Names(spec.cloud.logical_networks)
    for i, net in enumerate(spec.vm_networks):
        path: FieldPath = ("spec", "vmNetworks", i, "logicalNetwork")
        if net.logical_network not in logical:
            yield from missing_one(
                doc, net.logical_network, logical, path, code="ref.logical-network-not-found", what="logical network"
            )
        elif net.logical_network not in in_cloud:
            yield doc.diagnostic(
                "tenant.vm-network-outside-cloud",
                path,
                f"VM network {net.name!r} sits on logical network {net.logical_network!r}, "
                f"which is not in the tenant's cloud {spec.cloud.name!r}",
                hint=f"add {net.logical_network!r} to spec.cloud.logicalNetworks (ASR maps only networks of the cloud)",
            )


def _network_mappings(doc: SpecDocument[Any]) -> Iterator[Diagnostic]:
    """Each network mapping names one of the tenant's VM networks and a subnet of its recovery network."""
    spec = doc.model.spec
    vm_networks = Names(n.name for n in spec.vm_networks)
    vnet = spec.recovery.virtual_network
    subnets = Names(s.name for s in vnet.subnets)
    for i, mapping in enumerate(spec.recovery.network_mappings):
        base: FieldPath = ("spec", "recovery", "networkMappings", i)
        yield from missing_one(
            doc,
            mapping.vm_network,
            vm_networks,
            (*base, "vmNetwork"),
            code="ref.vm-network-not-found",
            what="VM network",
        )
        if mapping.azure_network.lower() != vnet.name.lower():
            yield doc.diagnostic(
                "ref.azure-network-not-found",
                (*base, "azureNetwork"),
                f"Azure network {mapping.azure_network!r} is not the tenant's recovery network {vnet.name!r}",
                hint=f"map to {vnet.name!r} (spec.recovery.virtualNetwork)",
            )
        else:
            yield from missing_one(
                doc,
                mapping.azure_subnet,
                subnets,
                (*base, "azureSubnet"),
                code="ref.azure-subnet-not-found",
                what="Azure subnet",
                where=f"in {vnet.name!r}",
            )


def _power(doc: SpecDocument[Any], specs: SpecSet) -> Iterator[Diagnostic]:
    spec = doc.model.spec
    if (spec.hosts is None) == (spec.host_group is None):
        both = spec.hosts is not None
        yield doc.diagnostic(
            "power.hosts-selector",
            ("spec", "hostGroup") if both else ("spec",),
            "a power profile selects its hosts with exactly one of 'hosts' or 'hostGroup'"
            + (": it has both" if both else ": it has neither"),
            hint="list the hosts by name, or name their host group, not both",
            key=both,
        )
    site_doc = specs.sites.get(spec.site)
    if site_doc is None:
        yield from missing_one(
            doc, spec.site, Names(specs.known_names("Site")), ("spec", "site"), code="ref.site-not-found", what="site"
        )
        return
    site = site_doc.model.spec
    if spec.hosts is not None:
        yield from missing(
            doc,
            spec.hosts,
            Names(h.name for h in site.hosts),
            ("spec", "hosts"),
            code="ref.host-not-found",
            what="host",
        )
    if spec.host_group is not None:
        yield from missing_one(
            doc,
            spec.host_group,
            Names(site.host_groups),
            ("spec", "hostGroup"),
            code="ref.host-group-not-found",
            what="host group",
        )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    for site in specs.sites.values():
        yield from _site(site)
    for tenant in specs.tenants.values():
        yield from _tenant(tenant, specs)
    for profile in specs.power_profiles.values():
        yield from _power(profile, specs)
