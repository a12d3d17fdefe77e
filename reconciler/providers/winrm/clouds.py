"""Tenants' VMM clouds, one script (``vmm_clouds.ps1``): host groups and logical networks are cloud resources
(``Set-SCCloud -AddCloudResource``/``-RemoveCloudResource``; there is no -AddLogicalNetwork), the quotas are
the cloud's capacity (``Set-SCCloudCapacity``: a limit per key the spec names; keys it does not name are left
as they are). A cloud is the tenant's whose spec names it. The Azure Pack administrator usually made it: the
tool then changes what the spec manages and leaves its Description (and so its ownership) alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.context import SiteRef
from reconciler.providers.winrm.handler import VmmHandler, existing_id
from reconciler.providers.winrm.normalize import Normalized

# The spec's capacity keys -> Set-SCCloudCapacity's amounts (memory in MB there, GB in the spec).
_CAPACITY = {
    "vms": ("VMCount", 1),
    "vcpus": ("CPUCount", 1),
    "memoryGb": ("MemoryMB", 1024),
    "storageGb": ("StorageGB", 1),
}


class CloudHandler(VmmHandler):
    kinds = frozenset({"vmm.cloud"})
    family: ClassVar[str] = "vmm_clouds"
    family_kinds: ClassVar[frozenset[str]] = frozenset({"vmm.cloud"})
    section: ClassVar[str] = "clouds"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.cloud(obj)

    def scope_of(self, site: SiteRef, n: Normalized) -> str | None:
        return self.context.tenant_of_cloud(site.name, n.name) or n.scope

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.Cloud)
        capacity = d.get("capacity") or {}
        data = {
            "operation": "set_cloud",
            "id": existing_id(seen),
            "name": d["name"],
            "hostGroups": [normalize.vmm_path(g) for g in d["hostGroups"]],
            "logicalNetworks": list(d["logicalNetworks"]),
            "capacity": {_CAPACITY[k][0]: int(v) * _CAPACITY[k][1] for k, v in capacity.items() if k in _CAPACITY},
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)
