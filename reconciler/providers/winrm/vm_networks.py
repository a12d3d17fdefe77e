"""VM networks, one script (``vmm_vm_networks.ps1``): the site's default VM network and the tenants' own, each
isolated with Hyper-V network virtualization on the provider-address logical network (``New-SCVMNetwork
-IsolationType WindowsNetworkVirtualization -CAIPAddressPoolType IPV4 -PAIPAddressPoolType IPV4``) with its VM
subnets (``New-SCVMSubnet``). VMM lists every tenant's VM networks in one answer: a VM network is the tenant's
that declares it, the site's when no tenant does (the default VM network), or the scope its marker names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.context import SiteRef
from reconciler.providers.winrm.handler import VmmHandler, existing_id
from reconciler.providers.winrm.normalize import Normalized


class VmNetworkHandler(VmmHandler):
    kinds = frozenset({"vmm.vm_network"})
    family: ClassVar[str] = "vmm_vm_networks"
    family_kinds: ClassVar[frozenset[str]] = frozenset({"vmm.vm_network"})
    section: ClassVar[str] = "vmNetworks"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.vm_network(obj)

    def scope_of(self, site: SiteRef, n: Normalized) -> str | None:
        return self.context.tenant_of_vm_network(site.name, n.name) or n.scope or site.name

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.VmNetwork)
        if d["isolation"] != "WindowsNetworkVirtualization" and d.get("subnets"):
            raise PermanentError(
                f"{resource.address}: VM subnets of a {d['isolation']} VM network name their network site's VLAN, "
                "which the spec does not say: create it in VMM, or use WindowsNetworkVirtualization",
                code="Unsupported",
            )
        data = {
            "operation": "set_vm_network",
            "id": existing_id(seen),
            "name": d["name"],
            "logicalNetwork": d["logicalNetwork"],
            "isolation": d["isolation"],
            "subnets": [{"name": s["name"], "subnet": s["subnet"]} for s in d.get("subnets") or []],
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)
