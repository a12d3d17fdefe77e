"""Power profiles are realisable on the hosts they select: BIOS values valid for each host's vendor,
a BMC to reach, the hypervisor policy matching the platform, one profile per host, a sane rollout."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Any

from reconciler.core.diagnostics import Diagnostic, Severity
from reconciler.spec import bios
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.power import BiosProfile, PowerProfileDocument
from reconciler.spec.models.site import Host, Platform, Vendor
from reconciler.spec.resolve import profile_hosts


def _bios(doc: SpecDocument[PowerProfileDocument], hosts: list[Host]) -> Iterator[Diagnostic]:
    spec = doc.model.spec.bios
    if spec is None:
        return
    if (spec.profile is None) == (spec.attributes is None):
        yield doc.diagnostic(
            "bios.profile-or-attributes",
            ("spec", "bios"),
            "bios needs exactly one of 'profile' (vendor-neutral) or 'attributes' (vendor values)",
            hint="e.g. bios: {profile: MaximumPerformance}",
        )
        return
    if spec.profile is BiosProfile.POWER_SAVING:
        yield doc.diagnostic(
            "bios.power-saving-cpu-ready",
            ("spec", "bios", "profile"),
            "BIOS power saving (Dell DBPM) raised CPU ready time above 20% on virtualization hosts",
            hint="use MaximumPerformance, or OsControlled to let the hypervisor's policy decide",
            severity=Severity.WARNING,
        )
    by_vendor: dict[Vendor, list[Host]] = {}
    for host in hosts:
        if host.bmc is None:
            yield doc.diagnostic(
                "bios.no-bmc",
                ("spec", "bios"),
                f"host {host.name!r} has no BMC, so its BIOS cannot be managed",
                hint=f"add bmc: {{address: https://..., vendor: ...}} to host {host.name!r} in its site",
            )
        else:
            by_vendor.setdefault(host.bmc.vendor, []).append(host)
    for vendor, group in by_vendor.items():
        which = ("host " if len(group) == 1 else "hosts ") + ", ".join(repr(h.name) for h in group)
        if spec.profile is not None:
            if bios.attributes_for(vendor, spec.profile) is None:
                yield doc.diagnostic(
                    "bios.unmappable-profile",
                    ("spec", "bios", "profile"),
                    f"profile {spec.profile.value!r} has no {vendor.value} equivalent ({which})",
                    hint="give explicit vendor attributes instead: bios: {attributes: {...}}",
                )
            continue
        for name, value in (spec.attributes or {}).items():
            path = ("spec", "bios", "attributes", name)
            accepted = bios.VENDOR_ATTRIBUTES[vendor].get(name)
            owner = bios.owner_of(name)
            if accepted is None and owner is not None and owner is not vendor:
                yield doc.diagnostic(
                    "bios.foreign-attribute",
                    path,
                    f"{name} is a {owner.value} attribute; {which} {'has a' if len(group) == 1 else 'have'} "
                    f"{vendor.value} BMC{'s' * (len(group) > 1)}",
                    hint="split the hosts into one power profile per vendor",
                    key=True,
                )
            elif accepted is not None and str(value) not in accepted:
                yield doc.diagnostic(
                    "bios.invalid-value",
                    path,
                    f"{value!r} is not a valid {vendor.value} {name}",
                    hint=f"use one of {', '.join(sorted(accepted))}",
                )


def _hypervisor(doc: SpecDocument[PowerProfileDocument], hosts: list[Host]) -> Iterator[Diagnostic]:
    hv = doc.model.spec.hypervisor
    if hv is None:
        return
    for host in hosts:
        if host.platform is Platform.HYPERV and hv.power_plan is None:
            yield doc.diagnostic(
                "power.missing-power-plan",
                ("spec", "hypervisor"),
                f"host {host.name!r} runs Hyper-V: it needs a Windows powerPlan",
                hint="add powerPlan: HighPerformance (or Balanced, PowerSaver)",
            )
            break
    for host in hosts:
        if host.platform is Platform.VSPHERE and hv.policy is None:
            yield doc.diagnostic(
                "power.missing-vsphere-policy",
                ("spec", "hypervisor"),
                f"host {host.name!r} runs vSphere: it needs a power policy",
                hint="add policy: static (High performance), dynamic, low or custom",
            )
            break


def _rollout(doc: SpecDocument[PowerProfileDocument], hosts: list[Host]) -> Iterator[Diagnostic]:
    rollout = doc.model.spec.rollout
    if rollout.maintenance_window is not None:
        try:
            zoneinfo.ZoneInfo(rollout.maintenance_window.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield doc.diagnostic(
                "power.invalid-timezone",
                ("spec", "rollout", "maintenanceWindow", "timezone"),
                f"unknown time zone {rollout.maintenance_window.timezone!r}",
                hint="use an IANA name such as UTC or Europe/Amsterdam",
            )
    if len(hosts) > 1 and rollout.max_unavailable >= len(hosts):
        yield doc.diagnostic(
            "power.rollout-all-hosts",
            ("spec", "rollout", "maxUnavailable"),
            f"maxUnavailable {rollout.max_unavailable} lets every one of the {len(hosts)} hosts reboot at once",
            hint="keep capacity for the tenants' VMs: roll out fewer hosts at a time",
            severity=Severity.WARNING,
        )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    claimed: dict[tuple[str, str], SpecDocument[Any]] = {}
    for doc in specs.power_profiles.values():
        hosts = profile_hosts(doc.model, specs)
        yield from _bios(doc, hosts)
        yield from _hypervisor(doc, hosts)
        yield from _rollout(doc, hosts)
        for host in hosts:
            key = (doc.model.spec.site, host.name.lower())
            other = claimed.setdefault(key, doc)
            if other is not doc:
                names = [n.lower() for n in doc.model.spec.hosts or ()]
                yield doc.diagnostic(
                    "power.host-in-two-profiles",
                    ("spec", "hosts", names.index(host.name.lower()))
                    if host.name.lower() in names
                    else ("spec", "hostGroup"),
                    f"host {host.name!r} is already governed by power profile {other.name!r}",
                    hint=f"each host follows one power profile: take it out of this one or out of {other.name!r}",
                    related=(other.where(),),
                )
