"""Logical switches and their deployment to hosts, one script (``vmm_switches.ps1``) for the family.

- ``vmm.logical_switch``: ``New-SCLogicalSwitch -SwitchUplinkMode`` (SR-IOV and the uplink mode cannot change
  after creation: the planner replaces), an uplink port profile set per uplink port profile
  (``New-SCUplinkPortProfileSet``), and a virtual port per port classification, paired with the classification's
  virtual port profile (``New-SCVirtualNetworkAdapterPortProfileSet``).
- ``vmm.host_switch``: the switch on one host: the host's free physical adapters get the switch's uplink port
  profile set (``Set-SCVMHostNetworkAdapter``), a host virtual switch is made on them (``New-SCVirtualNetwork
  -LogicalSwitch``), and ``Set-SCVMHost`` runs both, in one job group per host. A host's virtual switch has no
  Description: the tool's ownership of those it deploys is in the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reconciler.core import desired as typed
from reconciler.core.resources import Resource
from reconciler.providers.base import Progress, Step
from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.handler import VmmHandler, existing_id
from reconciler.providers.winrm.normalize import Normalized

SWITCH_KINDS = frozenset({"vmm.logical_switch", "vmm.host_switch"})


class _Switches(VmmHandler):
    family: ClassVar[str] = "vmm_switches"
    family_kinds: ClassVar[frozenset[str]] = SWITCH_KINDS


class LogicalSwitchHandler(_Switches):
    kinds = frozenset({"vmm.logical_switch"})
    section: ClassVar[str] = "logicalSwitches"

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.logical_switch(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.LogicalSwitch)
        data = {
            "operation": "set_logical_switch",
            "id": existing_id(seen),
            "name": d["name"],
            "uplinkMode": d["uplinkMode"],
            "sriov": bool(d["sriov"]),
            "uplinkPortProfiles": list(d["uplinkPortProfiles"]),
            "portClassifications": list(d["portClassifications"]),
            "description": self.description(resource, seen),
        }
        self.set(resource, step, report, data)


class HostSwitchHandler(_Switches):
    kinds = frozenset({"vmm.host_switch"})
    section: ClassVar[str] = "hostSwitches"
    ledgered: ClassVar[bool] = True

    def normalize(self, obj: Mapping[str, Any]) -> Normalized:
        return normalize.host_switch(obj)

    def put(self, resource: Resource, step: Step, report: Progress, seen: Normalized | None) -> None:
        d = typed.of(resource, typed.HostSwitch)
        if seen is None:  # the name is the host and the switch: an existing one already matches
            data = {"operation": "set_host_switch", "host": d["host"], "logicalSwitch": d["logicalSwitch"]}
            what = f"deploy logical switch {d['logicalSwitch']} to {d['host']}"
            self.write(self.site(resource), data, what, report)
            made = self.current(resource)  # the host's virtual switch has its ID once the job group ran
            self.own(resource, None, existing_id(made) or "")
        else:
            self.own(resource, seen, seen.id)
