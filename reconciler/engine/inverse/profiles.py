"""Profiles from the live estate: memory settings several VMs share become a MemoryProfile (a VM alone with its
settings keeps them inline), and hosts with the same power plan or policy become a PowerProfile per site. The
inverse of ``resolve.vm_memory``/``resolve.effective_memory`` and of ``expand._power``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.units import format_memory_mb
from reconciler.engine.inverse.doc import Generated
from reconciler.engine.inverse.live import Live

MemoryKey = tuple[bool, int, int, int, int, int]  # dynamic, startup, minimum, maximum, bufferPercent, priority


def memory_key(data: Mapping[str, Any]) -> MemoryKey:
    """A VM's live memory as Hyper-V holds it (MB), the way expand produces it."""
    return (
        bool(data.get("dynamic")),
        int(data.get("startup") or 0),
        int(data.get("minimum") or 0),
        int(data.get("maximum") or 0),
        int(data.get("bufferPercent", 20)),
        int(data.get("priority", 50)),
    )


def memory_settings(key: MemoryKey) -> dict[str, Any]:
    """The spec's memory settings that expand to ``key`` (static memory: startup alone)."""
    dynamic, startup, minimum, maximum, buffer, priority = key
    out: dict[str, Any] = {"dynamic": dynamic, "startup": format_memory_mb(startup)}
    if dynamic:
        out["minimum"] = format_memory_mb(minimum)
        out["maximum"] = format_memory_mb(maximum)
    out["bufferPercent"] = buffer
    out["priority"] = priority
    return out


def _profile_name(key: MemoryKey) -> str:
    dynamic, startup, minimum, maximum, buffer, priority = key
    sizes = [startup] + ([minimum, maximum] if dynamic else [])
    name = ("dynamic-" if dynamic else "static-") + "-".join(format_memory_mb(s).lower() for s in sizes)
    if (buffer, priority) != (20, 50):
        name += f"-b{buffer}-p{priority}"
    return name


def memory_profiles(memories: Iterable[Mapping[str, Any]]) -> tuple[list[Generated], dict[MemoryKey, str]]:
    """A MemoryProfile per memory setting two or more VMs share, and which profile each such setting is."""
    counts = Counter(memory_key(m) for m in memories)
    names = {key: _profile_name(key) for key, n in sorted(counts.items()) if n >= 2}
    docs = [
        Generated("MemoryProfile", name, "profiles/memory.yaml", memory_settings(key)) for key, name in names.items()
    ]
    return docs, names


def power_profiles(site: str, live: Live) -> list[Generated]:
    """One PowerProfile per power plan (Hyper-V) or policy (vSphere) the site's hosts are on."""
    groups: dict[tuple[str, str], list[str]] = {}
    for policy in live.of(site, "host.power_policy"):
        data = policy.data
        setting = (
            ("powerPlan", str(data["powerPlan"])) if data.get("powerPlan") else ("policy", str(data.get("policy")))
        )
        if setting[1] in ("", "None"):
            continue
        groups.setdefault(setting, []).append(policy.address.name)
    docs = []
    for (field, value), hosts in sorted(groups.items()):
        name = f"{site}-{value.lower()}"[:63].rstrip("-")
        doc = Generated("PowerProfile", name, "profiles/power.yaml", {"site": site, "hosts": sorted(hosts)})
        doc.spec["hypervisor"] = {field: value}
        doc.spec["cpuReadyAlertPercent"] = 5.0
        doc.spec["rollout"] = {"maxUnavailable": 1}
        doc.note(("rollout",), "not in the estate: one host at a time, no maintenance window; set yours")
        docs.append(doc)
    return docs
