"""Derived facts about valid specs that both the rules and the engine need: which hosts a power profile
selects, the effective memory of a VM, a tenant's recovery region."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.spec.loader import SpecSet
from reconciler.spec.models.memory import MemorySettings
from reconciler.spec.models.power import PowerProfileDocument
from reconciler.spec.models.site import Host
from reconciler.spec.models.tenant import TenantDocument, Vm


def profile_hosts(profile: PowerProfileDocument, specs: SpecSet) -> list[Host]:
    """The site's hosts a power profile selects (by name or by host group), in site order."""
    site_doc = specs.sites.get(profile.spec.site)
    if site_doc is None:
        return []
    hosts = site_doc.model.spec.hosts
    if profile.spec.hosts is not None:
        wanted = {h.lower() for h in profile.spec.hosts}
        return [h for h in hosts if h.name.lower() in wanted]
    if profile.spec.host_group is not None:
        group = profile.spec.host_group.lower()
        return [h for h in hosts if h.host_group.lower() == group]
    return []


def vm_memory(vm: Vm, specs: SpecSet) -> MemorySettings | None:
    """The memory settings a VM should have: inline, or from its profile; None when unmanaged."""
    if vm.memory is not None:
        return vm.memory
    if vm.memory_profile is not None:
        doc = specs.memory_profiles.get(vm.memory_profile)
        return doc.model.spec if doc is not None else None
    return None


@dataclass(frozen=True)
class EffectiveMemory:
    """Memory in MB as Hyper-V stores it (VirtualQuantity, Reservation, Limit)."""

    dynamic: bool
    startup: int
    minimum: int
    maximum: int
    buffer_percent: int
    priority: int


def effective_memory(settings: MemorySettings) -> EffectiveMemory | None:
    """Fill the derived values: static memory is startup = minimum = maximum; report-maximum-at-boot
    boots at the maximum. None when the settings are incomplete (the rules report why)."""
    startup = settings.boot_size
    if startup is None:
        return None
    if not settings.dynamic:
        return EffectiveMemory(False, startup, startup, startup, settings.buffer_percent, settings.priority)
    if settings.minimum is None or settings.maximum is None:
        return None
    return EffectiveMemory(
        True, startup, settings.minimum, settings.maximum, settings.buffer_percent, settings.priority
    )


def recovery_region(tenant: TenantDocument, specs: SpecSet) -> str | None:
    """Where the tenant's recovery resources live: its own setting, else the site vault's region."""
    if tenant.spec.recovery is not None and tenant.spec.recovery.location is not None:
        return tenant.spec.recovery.location
    site = specs.sites.get(tenant.spec.site)
    return site.model.spec.recovery_vault.location if site is not None else None
