"""The start of the NVGRE chain, one script (``vmm_networks.ps1``) for the family: logical networks
(``New-SCLogicalNetwork -EnableNetworkVirtualization``), their network sites (``New-SCLogicalNetworkDefinition``
with subnet/VLAN pairs and host groups) and the sites' static IP pools (``New-SCStaticIPAddressPool``: the
provider addresses NVGRE needs). One run of its read answers all three kinds for a VMM server.

A network site has no Description, so the tool's ownership of the sites it creates is in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.handler import VmmHandler, existing_id
from reconciler.providers.winrm.normalize import Normalized

NETWORK_KINDS = frozenset({"vmm.logical_network", "vmm.network_site", "vmm.ip_pool"})


class _Networks(VmmHandler):
    family: ClassVar[str] = "vmm_networks"
    family_kinds: ClassVar[frozenset[str]] = NETWORK_KINDS


class LogicalNetworkHandler(_Networks):
    kinds = frozenset({"vmm.logical_network"})
    section: ClassVar[str] = "logicalNetworks"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.logical_network(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.LogicalNetwork)
        data = {
            "operation": "set_logical_network",
            "id": existing_id(seen),
            "name": d["name"],
            "networkVirtualization": bool(d["networkVirtualization"]),
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)


class NetworkSiteHandler(_Networks):
    kinds = frozenset({"vmm.network_site"})
    section: ClassVar[str] = "networkSites"
    ledgered: ClassVar[bool] = True

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.network_site(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.NetworkSite)
        if not step.lifecycle_only:
            data = {
                "operation": "set_network_site",
                "id": existing_id(seen),
                "name": d["name"],
                "logicalNetwork": d["logicalNetwork"],
                "hostGroups": [normalize.vmm_path(g) for g in d["hostGroups"]],
                "subnets": [{"subnet": s["subnet"], "vlan": int(s.get("vlan") or 0)} for s in d["subnets"]],
            }
            result = self.set(resource, step, report, data)
            created = str(result.get("id") or "")
        else:
            created = ""
        self.own(resource, seen, existing_id(seen) or created)


class IpPoolHandler(_Networks):
    kinds = frozenset({"vmm.ip_pool"})
    section: ClassVar[str] = "ipPools"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.ip_pool(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.IpPool)
        data = {
            "operation": "set_ip_pool",
            "id": existing_id(seen),
            "name": d["name"],
            "networkSite": d["networkSite"],
            "subnet": d["subnet"],
            "rangeStart": d["rangeStart"],
            "rangeEnd": d["rangeEnd"],
            "gateway": d.get("gateway"),
            "dnsServers": list(d.get("dnsServers") or []),
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)
