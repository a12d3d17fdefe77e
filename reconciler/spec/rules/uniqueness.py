"""Names inside one document must be unique where other items refer to them by name; and no two hosts, in any
site, name the same BMC (a host rollout resets the server behind the address: the other host's, still running
its VMs)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic.alias_generators import to_camel

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.yamlsource import FieldPath


def duplicates(
    doc: SpecDocument[Any], items: Sequence[Any], path: FieldPath, *, attr: str = "name", what: str
) -> Iterator[Diagnostic]:
    """One diagnostic for every item whose ``attr`` repeats an earlier one (case-insensitive, as VMM)."""
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        value = str(getattr(item, attr))
        key = value.lower()
        if key in seen:
            yield doc.diagnostic(
                "spec.duplicate-item",
                (*path, i, to_camel(attr)),
                f"{what} {value!r} is listed twice (first at {path[-1]}[{seen[key]}])",
                hint=f"each {what} needs its own name",
                related=(doc.where((*path, seen[key])),),
            )
        else:
            seen[key] = i


def _bmc_key(address: str) -> str:
    """A BMC address as the network sees it: scheme and host case-insensitive, no trailing slash."""
    return address.strip().rstrip("/").casefold()


def shared_bmcs(sites: Iterable[SpecDocument[SiteDocument]]) -> Iterator[Diagnostic]:
    """One diagnostic for each host whose BMC address an earlier host (of any site) already names."""
    owners: dict[str, tuple[SpecDocument[SiteDocument], int, str]] = {}
    for doc in sites:
        for i, host in enumerate(doc.model.spec.hosts):
            if host.bmc is None:
                continue
            owner = owners.setdefault(_bmc_key(host.bmc.address), (doc, i, host.name))
            if owner[:2] == (doc, i):
                continue
            where = "" if owner[0] is doc else f" of site {owner[0].name!r}"
            yield doc.diagnostic(
                "site.shared-bmc-address",
                ("spec", "hosts", i, "bmc", "address"),
                f"BMC address {host.bmc.address!r} of host {host.name!r} is already the BMC of host "
                f"{owner[2]!r}{where}",
                hint="each server has its own BMC: a reset through this address would restart the other host",
                related=(owner[0].where(("spec", "hosts", owner[1], "bmc", "address")),),
            )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    yield from shared_bmcs(specs.sites.values())
    for doc in specs.sites.values():
        spec = doc.model.spec
        yield from duplicates(doc, spec.hosts, ("spec", "hosts"), what="host")
        yield from duplicates(doc, spec.logical_networks, ("spec", "logicalNetworks"), what="logical network")
        yield from duplicates(
            doc, spec.uplink_port_profiles, ("spec", "uplinkPortProfiles"), what="uplink port profile"
        )
        yield from duplicates(
            doc, spec.port_classifications, ("spec", "portClassifications"), what="port classification"
        )
        yield from duplicates(doc, spec.logical_switches, ("spec", "logicalSwitches"), what="logical switch")
        seen_sites: dict[str, FieldPath] = {}
        for i, ln in enumerate(spec.logical_networks):
            for j, site in enumerate(ln.sites):
                path: FieldPath = ("spec", "logicalNetworks", i, "sites", j, "name")
                first = seen_sites.setdefault(site.name.lower(), path)
                if first != path:
                    yield doc.diagnostic(
                        "spec.duplicate-item",
                        path,
                        f"network site {site.name!r} is defined twice",
                        hint="network site names are unique per VMM server (uplink profiles refer to them by name)",
                        related=(doc.where(first),),
                    )
                yield from duplicates(
                    doc, site.ip_pools, ("spec", "logicalNetworks", i, "sites", j, "ipPools"), what="IP pool"
                )
    for tenant in specs.tenants.values():
        tspec = tenant.model.spec
        yield from duplicates(tenant, tspec.vm_networks, ("spec", "vmNetworks"), what="VM network")
        yield from duplicates(tenant, tspec.vms, ("spec", "vms"), what="VM")
        if tspec.recovery is not None:
            yield from duplicates(
                tenant,
                tspec.recovery.virtual_network.subnets,
                ("spec", "recovery", "virtualNetwork", "subnets"),
                what="subnet",
            )
            yield from duplicates(
                tenant,
                tspec.recovery.network_mappings,
                ("spec", "recovery", "networkMappings"),
                attr="vm_network",
                what="network mapping for VM network",
            )
