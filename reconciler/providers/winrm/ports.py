"""Port profiles, one script (``vmm_ports.ps1``) for the family: uplink port profiles
(``New-SCNativeUplinkPortProfile`` on the network sites they carry, network virtualization on for the
provider-address uplink, LBFO teaming) and port classifications with their virtual port profile.

A port classification carries no settings of its own: the DHCP guard, router guard and MAC spoofing live on a
virtual network adapter port profile (``New-SCVirtualNetworkAdapterNativePortProfile``), and VMM pairs the two
only inside a logical switch. The tool keeps one profile per classification, of the same name, and the logical
switch pairs them (``switches.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import marker, normalize
from reconciler.providers.winrm.handler import VmmHandler, existing_id
from reconciler.providers.winrm.normalize import Normalized

PORT_KINDS = frozenset({"vmm.uplink_port_profile", "vmm.port_classification"})


class _Ports(VmmHandler):
    family: ClassVar[str] = "vmm_ports"
    family_kinds: ClassVar[frozenset[str]] = PORT_KINDS


class UplinkPortProfileHandler(_Ports):
    kinds = frozenset({"vmm.uplink_port_profile"})
    section: ClassVar[str] = "uplinkPortProfiles"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.uplink_port_profile(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.UplinkPortProfile)
        data = {
            "operation": "set_uplink_port_profile",
            "id": existing_id(seen),
            "name": d["name"],
            "networkSites": list(d["networkSites"]),
            "networkVirtualization": bool(d["networkVirtualization"]),
            "teamingMode": d["teamingMode"],
            "loadBalancing": d["loadBalancing"],
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)


class PortClassificationHandler(_Ports):
    kinds = frozenset({"vmm.port_classification"})
    section: ClassVar[str] = "portClassifications"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.port_classification(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.PortClassification)
        text = str(d.get("description") or "")
        # The spec manages the description: someone else's classification gets it without the marker.
        description = self.description(resource, seen, text)
        profile = self.description(resource, seen)
        data = {
            "operation": "set_port_classification",
            "id": existing_id(seen),
            "name": d["name"],
            "description": description if description is not None else marker.parse(text).text,
            "profileDescription": profile,
            "dhcpGuard": bool(d["dhcpGuard"]),
            "routerGuard": bool(d["routerGuard"]),
            "macSpoofing": bool(d["macSpoofing"]),
        }
        self.set(resource, step, report, data)
