"""Health findings beside drift: pure. Live objects in, findings out.

- **protection**: a protected item (``asr.protected_item``) whose ``protectionState`` is not ``Protected`` or
  whose ``replicationHealth`` is not ``Normal`` (Warning: a warning; Critical, or not protected: critical);
- **asr-provider**: an ASR Provider on a registered VMM server (``asr.vmm_server`` status ``providers``) that is
  not connected or whose version is out of support (critical), or deprecated, due an update or expiring within
  30 days (warning);
- **cpu-ready**: a host of a power profile whose live ``cpuReadyPercent`` (``host.state`` status) exceeds the
  profile's ``cpuReadyAlertPercent``, naming the suspected cause and the fix: the host's current BIOS profile
  and power policy, or, when both are set for performance, too high a vCPU:pCPU ratio or oversized VMs (from
  the ``vcpus``, ``pcpus`` and ``vms`` a backend with inventory reports beside the metric). The seed's
  lesson: Dell demand-based power management (DBPM) raised CPU ready above 20% on hosts at half load; BIOS
  Maximum Performance fixed it, OS Control hands the policy to the hypervisor (then its power plan
  matters). Twice the threshold or more is critical.

Every watched host's figure, finding or not, is also a :class:`Reading`: the drift report keeps them, so the
history of drift runs holds each host's CPU ready trend. Where a figure comes from is the backend's
(``cpuReadySource``: vCenter's QueryPerf, or the embedded estate's table).

Which hosts to watch comes from the specs (:func:`watches`); reading ``host.state`` is one bulk read per
site or vCenter (:func:`host_reads`). See docs/drift.md."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.spec import resolve
from reconciler.spec.loader import SpecSet

HOST_KIND = kinds.HOST_KIND

# Vendor BIOS values -> the vendor-neutral name people know them by.
BIOS_NAMES: dict[str, str] = {
    # Dell SysProfile
    "PerfPerWattOptimizedDapc": "demand-based power management (DBPM)",
    "PerfPerWattOptimizedOs": "OS control (OsControlled)",
    "PerfOptimized": "Maximum Performance (MaximumPerformance)",
    "DenseCfgOptimized": "dense configuration (DenseConfiguration)",
    "Custom": "custom",
    # HPE PowerRegulator
    "DynamicPowerSavings": "dynamic power savings (demand-based)",
    "StaticLowPower": "static low power",
    "StaticHighPerf": "static high performance (MaximumPerformance)",
    "OsControl": "OS control (OsControlled)",
}
_BIOS_ATTRIBUTES = ("SysProfile", "PowerRegulator")
_FAST_BIOS = {"PerfOptimized", "StaticHighPerf"}
_OS_BIOS = {"PerfPerWattOptimizedOs", "OsControl"}
_FAST_POLICY = {"highperformance", "static"}

FIX_POWER = (
    "set the BIOS profile to MaximumPerformance (Dell SysProfile=PerfOptimized), or OsControlled with the "
    "HighPerformance power plan (vSphere: static); apply the power profile (hosts reboot one at a time)"
)
FIX_OTHER = (
    "power management is not the likely cause: look for oversized VMs (a multi-vCPU VM waits for that many "
    "free cores) or too high a vCPU:pCPU ratio"
)
FIX_RATIO = (
    "move VMs to hosts with free cores (or add hosts), and give VMs only the vCPUs they use: a multi-vCPU VM "
    "waits until that many cores are free at once"
)
HIGH_VCPU_RATIO = 3.0  # vCPUs of running VMs per physical core above which CPU ready is expected
OVERSIZED_SHARE = 0.5  # a VM with at least this share of the host's cores waits for most of them at once


@dataclass(frozen=True, slots=True)
class HealthFinding:
    """One health problem of a live object. ``check`` is ``protection``, ``asr-provider`` or ``cpu-ready``; ``severity``
    ``warning`` or ``critical``; ``value``/``threshold`` the figures behind it (cpu-ready: percents)."""

    address: Address
    site: str
    tenant: str | None
    check: str
    severity: str
    message: str
    cause: str = ""
    fix: str = ""
    value: Any = None
    threshold: float | None = None
    evidence: Mapping[str, Any] | None = None  # cpu-ready: the figures behind the cause (source, vCPUs, VMs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "kind": self.address.kind,
            "name": self.address.name,
            "site": self.site,
            "tenant": self.tenant,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "cause": self.cause or None,
            "fix": self.fix or None,
            "value": self.value,
            "threshold": self.threshold,
            "evidence": dict(self.evidence) if self.evidence else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HealthFinding:
        return cls(
            address=Address.parse(d["address"]),
            site=d.get("site") or "",
            tenant=d.get("tenant"),
            check=d["check"],
            severity=d["severity"],
            message=d.get("message") or "",
            cause=d.get("cause") or "",
            fix=d.get("fix") or "",
            value=d.get("value"),
            threshold=d.get("threshold"),
            evidence=d.get("evidence") or None,
        )


@dataclass(frozen=True, slots=True)
class Watch:
    """A host whose CPU ready a power profile watches."""

    site: str
    host: str
    profile: str
    threshold: float


def watches(specs: SpecSet, resources: Sequence[Resource] | None = None) -> list[Watch]:
    """Every host of every power profile, with the profile's threshold. With ``resources`` (a --target
    selection), only the hosts whose BIOS or power-policy resource is selected."""
    chosen = None
    if resources is not None:
        chosen = {
            (r.address.scope, r.address.name.casefold())
            for r in resources
            if r.address.kind in ("bmc.bios", "host.power_policy")
        }
    out: dict[tuple[str, str], Watch] = {}
    for doc in specs.power_profiles.values():
        p = doc.model.spec
        for host in resolve.profile_hosts(doc.model, specs):
            key = (p.site, host.name.casefold())
            if chosen is not None and key not in chosen:
                continue
            out.setdefault(key, Watch(p.site, host.name, doc.name, p.cpu_ready_alert_percent))
    return list(out.values())


def host_reads(items: Iterable[Watch]) -> list[Resource]:
    """What to read for ``items``: their ``host.state`` objects (one bulk read per site)."""
    return [Resource(Address(HOST_KIND, w.site, w.host), {}, site=w.site) for w in items]


def _bios_value(bios: Observed | None) -> str:
    attributes = (bios.data.get("attributes") or {}) if bios is not None else {}
    for name in _BIOS_ATTRIBUTES:
        if name in attributes:
            return str(attributes[name])
    return ""


def _policy_value(policy: Observed | None) -> str:
    if policy is None:
        return ""
    return str(policy.data.get("powerPlan") or policy.data.get("policy") or "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pct(value: float) -> str:
    return f"{value:g}%"


def _ratio(status: Mapping[str, Any]) -> tuple[float, int, int] | None:
    """vCPUs of the running VMs per physical core, with both counts (None: the backend has no inventory)."""
    vcpus, pcpus = status.get("vcpus"), status.get("pcpus")
    if not isinstance(vcpus, int) or not isinstance(pcpus, int) or pcpus <= 0:
        return None
    return vcpus / pcpus, vcpus, pcpus


def _vm_text(vm: Mapping[str, Any]) -> str:
    per = _number(vm.get("cpuReadyPerVcpuPercent"))
    each = f", {_pct(per)} per vCPU" if per is not None else ""
    return f"{vm.get('name')} {_pct(_number(vm.get('cpuReadyPercent')) or 0.0)} ({vm.get('vcpus')} vCPUs{each})"


def _waits(vm: Mapping[str, Any]) -> bool:
    """The VM itself shows ready time (an idle oversized VM is not why the host waits)."""
    return (_number(vm.get("cpuReadyPercent")) or 0.0) > 0


def _evidence(status: Mapping[str, Any]) -> dict[str, Any]:
    """The figures behind a cpu-ready finding that the backend reported beside the metric."""
    keys = ("cpuReadySource", "cpuReadyPeakPercent", "vcpus", "pcpus", "vms")
    out = {k: status[k] for k in keys if status.get(k) not in (None, [], "")}
    ratio = _ratio(status)
    if ratio is not None:
        out["vcpuPerCore"] = round(ratio[0], 2)
    return out


def _diagnose(sys_profile: str, plan: str, status: Mapping[str, Any]) -> tuple[str, str]:
    """The suspected cause and its fix: power management when the BIOS or the policy saves power; else too many
    vCPUs per core; else oversized VMs (named), or nothing known."""
    bios_text = f"BIOS {sys_profile}: {BIOS_NAMES.get(sys_profile, sys_profile)}" if sys_profile else "BIOS unknown"
    power = f"{bios_text}; power policy {plan or 'unknown'}"
    power_bound = sys_profile not in _FAST_BIOS and not (sys_profile in _OS_BIOS and plan.casefold() in _FAST_POLICY)
    ratio = _ratio(status)
    ratio_text = f"vCPU:pCPU {ratio[0]:.1f}:1 ({ratio[1]} vCPUs of running VMs on {ratio[2]} cores)" if ratio else ""
    high = ratio is not None and ratio[0] > HIGH_VCPU_RATIO
    if power_bound:
        return power + (f"; also {ratio_text}, above {HIGH_VCPU_RATIO:g}:1" if high else ""), FIX_POWER
    power += " (power management set for performance)"
    if high:
        return f"{ratio_text}, above {HIGH_VCPU_RATIO:g}:1; {power}", FIX_RATIO
    vms = [v for v in status.get("vms") or [] if isinstance(v, Mapping)]
    cores = ratio[2] if ratio is not None else 0
    oversized = [
        v
        for v in vms
        if cores and isinstance(v.get("vcpus"), int) and v["vcpus"] >= OVERSIZED_SHARE * cores and _waits(v)
    ]
    if oversized:
        named = ", ".join(_vm_text(v) for v in oversized)
        return f"oversized VMs for {cores} cores: {named}; {power}", FIX_OTHER
    waiting = [v for v in vms if _waits(v)]
    worst = f"; most ready: {', '.join(_vm_text(v) for v in waiting[:3])}" if waiting else ""
    return power + (f"; {ratio_text}" if ratio_text else "") + worst, FIX_OTHER


def cpu_ready(
    watch: Watch, host: Observed | None, bios: Observed | None, policy: Observed | None
) -> HealthFinding | None:
    """The cpu-ready finding of one watched host, or None (no metric, or at most the threshold)."""
    percent = _number(host.status.get("cpuReadyPercent")) if host is not None else None
    if host is None or percent is None or percent <= watch.threshold:
        return None
    cause, fix = _diagnose(_bios_value(bios), _policy_value(policy), host.status)
    source = str(host.status.get("cpuReadySource") or "")
    return HealthFinding(
        address=Address(HOST_KIND, watch.site, watch.host),
        site=watch.site,
        tenant=None,
        check="cpu-ready",
        severity="critical" if percent >= 2 * watch.threshold else "warning",
        message=(
            f"CPU ready {_pct(percent)} on {watch.host} exceeds the {_pct(watch.threshold)} threshold of power "
            f"profile {watch.profile}" + (f" ({source})" if source else "")
        ),
        cause=cause,
        fix=fix,
        value=percent,
        threshold=watch.threshold,
        evidence=_evidence(host.status) or None,
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """One watched host's CPU ready as this run read it, above its threshold or not: what the history of drift
    runs keeps as the host's trend."""

    address: Address
    profile: str
    percent: float
    threshold: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "name": self.address.name,
            "site": self.address.scope,
            "profile": self.profile,
            "percent": self.percent,
            "threshold": self.threshold,
            "source": self.source or None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reading:
        return cls(
            address=Address.parse(d["address"]),
            profile=str(d.get("profile") or ""),
            percent=float(d["percent"]),
            threshold=float(d["threshold"]),
            source=str(d.get("source") or ""),
        )


def readings(items: Sequence[Watch], hosts: Mapping[Address, Observed | None]) -> tuple[Reading, ...]:
    """The CPU ready figure of every watched host that has one (``hosts``: their ``host.state`` objects)."""
    by_key = {(a.scope, a.name.casefold()): o for a, o in hosts.items() if a.kind == HOST_KIND}
    out: list[Reading] = []
    for w in items:
        seen = by_key.get((w.site, w.host.casefold()))
        percent = _number(seen.status.get("cpuReadyPercent")) if seen is not None else None
        if seen is not None and percent is not None:
            source = str(seen.status.get("cpuReadySource") or "")
            out.append(Reading(Address(HOST_KIND, w.site, w.host), w.profile, percent, w.threshold, source))
    return tuple(out)


def protection(resource: Resource, seen: Observed | None) -> HealthFinding | None:
    """The protection finding of one protected item, or None (absent, healthy, or no health reported)."""
    if seen is None:
        return None
    state = seen.status.get("protectionState")
    health = seen.status.get("replicationHealth")
    problems: list[str] = []
    severity = "warning"
    if state is not None and str(state) != "Protected":
        problems.append(f"protection state {state}")
        severity = "critical"
    if health is not None and str(health) != "Normal":
        problems.append(f"replication health {health}")
        if str(health).casefold() != "warning":
            severity = "critical"
    if not problems:
        return None
    return HealthFinding(
        address=resource.address,
        site=resource.site,
        tenant=resource.tenant,
        check="protection",
        severity=severity,
        message=f"protected VM {resource.address.name}: {', '.join(problems)}",
        fix="check the replication in the Recovery Services vault (ASR jobs and events of this item)",
        value={"protectionState": state, "replicationHealth": health},
    )


# ASR Provider version states (providerVersionDetails.status) that need an update soon, or now.
_PROVIDER_WARN = {"deprecated", "updateavailable", "securityupdaterequired"}
_PROVIDER_STALE = {"notsupported"}
PROVIDER_EXPIRY_WARNING_DAYS = 30
FIX_PROVIDER = (
    "update the Azure Site Recovery Provider on the VMM server (and the Recovery Services agent on its Hyper-V "
    "hosts); a disconnected provider: check the server's outbound HTTPS to Azure and that its service runs"
)


def _provider_problems(p: Mapping[str, Any]) -> tuple[list[str], str]:
    """What is wrong with one ASR Provider (empty: nothing) and how bad it is."""
    problems: list[str] = []
    critical = False
    connection = str(p.get("connection") or "")
    if connection and connection.casefold() != "connected":
        problems.append(f"{connection} (last heartbeat {p.get('lastHeartbeat') or 'unknown'})")
        critical = True
    state = str(p.get("versionState") or "")
    days = _number(p.get("expiresInDays"))
    if state.casefold() in _PROVIDER_STALE or (days is not None and days < 0):
        problems.append(f"version {p.get('version')} is out of support (expiry {p.get('expiry') or 'passed'})")
        critical = True
    elif state.casefold() in _PROVIDER_WARN:
        problems.append(f"version {p.get('version')}: {state}")
    elif days is not None and days <= PROVIDER_EXPIRY_WARNING_DAYS:
        problems.append(f"version {p.get('version')} expires in {days:g} days ({p.get('expiry')})")
    return problems, "critical" if critical else "warning"


def asr_providers(resource: Resource, seen: Observed | None) -> list[HealthFinding]:
    """The findings of the ASR Providers on a registered VMM server (``asr.vmm_server`` status ``providers``:
    version, its support state and expiry, last heartbeat, connection): one per provider with a problem."""
    out = []
    for p in (seen.status.get("providers") or []) if seen is not None else []:
        problems, severity = _provider_problems(p)
        if problems:
            out.append(
                HealthFinding(
                    address=resource.address,
                    site=resource.site,
                    tenant=None,
                    check="asr-provider",
                    severity=severity,
                    message=f"ASR Provider on {p.get('name') or resource.address.name}: {'; '.join(problems)}",
                    fix=FIX_PROVIDER,
                    value=dict(p),
                )
            )
    return out


def findings(
    resources: Sequence[Resource],
    observed: Mapping[Address, Observed | None],
    items: Sequence[Watch],
    hosts: Mapping[Address, Observed | None],
) -> tuple[HealthFinding, ...]:
    """Every health finding: protected items among ``resources`` (read in ``observed``), then the watched
    hosts (``hosts``: their ``host.state`` objects; BIOS and power policy from ``observed``)."""
    by_key = {(a.kind, a.scope, a.name.casefold()): o for a, o in {**observed, **hosts}.items()}

    def seen(kind: str, scope: str, name: str) -> Observed | None:
        return by_key.get((kind, scope, name.casefold()))

    out: list[HealthFinding] = []
    for r in resources:
        if r.address.kind == "asr.protected_item":
            found = protection(r, observed.get(r.address))
            if found is not None:
                out.append(found)
        elif r.address.kind == "asr.vmm_server":
            out += asr_providers(r, observed.get(r.address))
    for w in items:
        found = cpu_ready(
            w,
            seen(HOST_KIND, w.site, w.host),
            seen("bmc.bios", w.site, w.host),
            seen("host.power_policy", w.site, w.host),
        )
        if found is not None:
            out.append(found)
    return tuple(out)


__all__ = [
    "BIOS_NAMES",
    "HOST_KIND",
    "HealthFinding",
    "Reading",
    "Watch",
    "asr_providers",
    "cpu_ready",
    "findings",
    "host_reads",
    "protection",
    "readings",
    "watches",
]
