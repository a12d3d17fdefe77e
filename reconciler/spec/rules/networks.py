"""Address plans hold together (subnets inside address spaces, no overlaps, pools and gateways inside
their subnets) and NVGRE isolation has the chain it needs (DOMAIN.md, steps 1-4)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import Isolation
from reconciler.spec.rules._names import Names
from reconciler.spec.yamlsource import FieldPath

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=65536)
def _net(text: str) -> Network:
    return ipaddress.ip_network(text)


Span = tuple[int, int, int]  # IP version, first address, last address: overlap and containment are two compares


@functools.lru_cache(maxsize=65536)
def _span(text: str) -> Span:
    net = _net(text)
    first = int(net.network_address)
    return (net.version, first, first + net.num_addresses - 1)


def overlaps(doc: SpecDocument[Any], prefixes: Sequence[str], path: FieldPath, *, what: str) -> Iterator[Diagnostic]:
    """Each prefix in the list at ``path`` that overlaps an earlier one."""
    return _overlap_items(doc, prefixes, [(*path, i) for i in range(len(prefixes))], what=what)


def _inside(net: Span, spaces: Sequence[Span]) -> bool:
    return any(net[0] == s[0] and s[1] <= net[1] and net[2] <= s[2] for s in spaces)


def _tenant(doc: SpecDocument[Any]) -> Iterator[Diagnostic]:
    spec = doc.model.spec
    for i, vmnet in enumerate(spec.vm_networks):
        yield from _overlap_items(
            doc,
            [s.subnet for s in vmnet.subnets],
            [("spec", "vmNetworks", i, "subnets", j, "subnet") for j in range(len(vmnet.subnets))],
            what="VM subnet",
        )
    if spec.recovery is None:
        return
    vnet = spec.recovery.virtual_network
    base: FieldPath = ("spec", "recovery", "virtualNetwork")
    yield from overlaps(doc, vnet.address_space, (*base, "addressSpace"), what="address space")
    spaces = [_span(a) for a in vnet.address_space]
    for i, sub in enumerate(vnet.subnets):
        if not _inside(_span(sub.prefix), spaces):
            yield doc.diagnostic(
                "network.subnet-outside-address-space",
                (*base, "subnets", i, "prefix"),
                f"subnet {sub.name!r} ({sub.prefix}) is outside the address space {', '.join(vnet.address_space)}",
                hint="choose a prefix inside the VNet's addressSpace, or widen the address space",
            )
    yield from _overlap_items(
        doc,
        [s.prefix for s in vnet.subnets],
        [(*base, "subnets", i, "prefix") for i in range(len(vnet.subnets))],
        what="subnet",
    )


def _overlap_items(
    doc: SpecDocument[Any], prefixes: Sequence[str], paths: Sequence[FieldPath], *, what: str
) -> Iterator[Diagnostic]:
    """Like :func:`overlaps` for prefixes that sit in list items (each with its own path)."""
    spans = [_span(p) for p in prefixes]
    for i, (version, first, last) in enumerate(spans):
        for j in range(i):
            other = spans[j]
            if version == other[0] and first <= other[2] and other[1] <= last:
                yield doc.diagnostic(
                    "network.subnet-overlap",
                    paths[i],
                    f"{what} {_net(prefixes[i])} overlaps {_net(prefixes[j])}",
                    hint=f"give every {what} its own address range",
                    related=(doc.where(paths[j]),),
                )
                break


def _pools(doc: SpecDocument[SiteDocument]) -> Iterator[Diagnostic]:
    for i, ln in enumerate(doc.model.spec.logical_networks):
        for j, site in enumerate(ln.sites):
            site_nets = [_net(s.subnet) for s in site.subnets]
            for k, pool in enumerate(site.ip_pools):
                base: FieldPath = ("spec", "logicalNetworks", i, "sites", j, "ipPools", k)
                subnet = _net(pool.subnet)
                if subnet not in site_nets:
                    yield doc.diagnostic(
                        "network.pool-subnet-not-in-site",
                        (*base, "subnet"),
                        f"IP pool {pool.name!r} uses {subnet}, which is not a subnet of network site {site.name!r}",
                        hint=f"use one of {', '.join(str(n) for n in site_nets)}",
                    )
                start = ipaddress.ip_address(pool.range.start)
                end = ipaddress.ip_address(pool.range.end)
                for field, address in (("start", start), ("end", end)):
                    if address not in subnet:
                        yield doc.diagnostic(
                            "network.pool-outside-subnet",
                            (*base, "range", field),
                            f"range {field} {address} is outside the pool's subnet {subnet}",
                            hint=f"choose an address inside {subnet}",
                        )
                if start.version == end.version and start > end:  # type: ignore[operator]
                    yield doc.diagnostic(
                        "network.pool-range-reversed",
                        (*base, "range"),
                        f"range start {start} is after its end {end}",
                        hint="swap start and end",
                    )
                if pool.gateway is not None and ipaddress.ip_address(pool.gateway) not in subnet:
                    yield doc.diagnostic(
                        "network.gateway-outside-subnet",
                        (*base, "gateway"),
                        f"gateway {pool.gateway} is outside the pool's subnet {subnet}",
                        hint=f"use a gateway address inside {subnet}",
                    )


def _virtualization_chain(
    doc: SpecDocument[Any], site: SiteDocument, logical_network: str, path: FieldPath, *, network: str
) -> Iterator[Diagnostic]:
    """A network isolated with Hyper-V network virtualization needs, on its logical network: NV on,
    a network site with a provider-address pool, and an uplink profile with NV on for that site."""
    ln = next((n for n in site.spec.logical_networks if n.name.lower() == logical_network.lower()), None)
    if ln is None:
        return  # reported by references
    if not ln.network_virtualization:
        yield doc.diagnostic(
            "nv.logical-network-not-virtualized",
            path,
            f"{network} is isolated with network virtualization but logical network {ln.name!r} has it off",
            hint=f"set networkVirtualization: true on logical network {ln.name!r} in site {site.metadata.name!r}",
        )
        return
    pooled = [s for s in ln.sites if s.ip_pools]
    if not pooled:
        yield doc.diagnostic(
            "nv.no-provider-address-pool",
            path,
            f"logical network {ln.name!r} has no network site with an IP pool for provider addresses",
            hint=f"add an ipPools entry to one of its network sites in site {site.metadata.name!r} "
            "(New-SCStaticIPAddressPool)",
        )
        return
    site_names = Names(s.name for s in pooled)
    carrying = [u for u in site.spec.uplink_port_profiles if any(s in site_names for s in u.sites)]
    if not any(u.network_virtualization for u in carrying):
        if carrying:
            fix = f"set networkVirtualization: true on uplink port profile {carrying[0].name!r}"
        else:
            fix = "add an uplink port profile with networkVirtualization: true for network site " + " or ".join(
                repr(s.name) for s in pooled
            )
        yield doc.diagnostic(
            "nv.no-virtualized-uplink",
            path,
            f"no uplink port profile with network virtualization carries logical network {ln.name!r}",
            hint=f"{fix} in site {site.metadata.name!r}",
        )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    for site_doc in specs.sites.values():
        yield from _pools(site_doc)
        default = site_doc.model.spec.default_vm_network
        if default is not None:
            yield from _virtualization_chain(
                site_doc,
                site_doc.model,
                default.logical_network,
                ("spec", "defaultVmNetwork", "logicalNetwork"),
                network=f"default VM network {default.name!r}",
            )
    for tenant in specs.tenants.values():
        yield from _tenant(tenant)
        tenant_site = specs.sites.get(tenant.model.spec.site)
        if tenant_site is None:
            continue
        for i, vmnet in enumerate(tenant.model.spec.vm_networks):
            if vmnet.isolation is Isolation.NETWORK_VIRTUALIZATION:
                yield from _virtualization_chain(
                    tenant,
                    tenant_site.model,
                    vmnet.logical_network,
                    ("spec", "vmNetworks", i, "logicalNetwork"),
                    network=f"VM network {vmnet.name!r}",
                )
