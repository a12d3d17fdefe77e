"""What the engine knows about each resource kind: whether it can be created, which fields cannot change
in place (a change means replace), which compare case-insensitively or as sets, and when a change
disrupts (the VM must be off, the host must reboot). Pure data plus small pure functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.changes import FieldChange

Disruption = Callable[[tuple[FieldChange, ...], Mapping[str, Any]], str]


def _never(_fields: tuple[FieldChange, ...], _status: Mapping[str, Any]) -> str:
    return ""


def _memory_disruption(fields: tuple[FieldChange, ...], status: Mapping[str, Any]) -> str:
    """Hyper-V: startup memory and dynamic on/off change only with the VM off; a running VM's minimum
    may go down and its maximum up, not the reverse. Buffer and priority change live."""
    if str(status.get("powerState", "")).lower() != "running":
        return ""
    why = []
    for f in fields:
        top = f.path.split(".")[0]
        if top in ("dynamic", "startup"):
            why.append(f"{top} changes only with the VM off")
        elif top == "minimum" and isinstance(f.old, int) and isinstance(f.new, int) and f.new > f.old:
            why.append("raising minimum memory needs the VM off")
        elif top == "maximum" and isinstance(f.old, int) and isinstance(f.new, int) and f.new < f.old:
            why.append("lowering maximum memory needs the VM off")
    return "; ".join(why)


def _bios_disruption(fields: tuple[FieldChange, ...], _status: Mapping[str, Any]) -> str:
    return "the host must reboot (in maintenance mode) for BIOS settings to apply" if fields else ""


def _reprotection(fields: tuple[FieldChange, ...], status: Mapping[str, Any]) -> str:
    """ASR: a protected VM's policy, storage account or replica target cannot change in place. Protection is
    disabled and enabled again: the VM's recovery points are lost and it replicates from scratch."""
    if not any(f.immutable for f in fields):
        return ""
    size = status.get("diskSizeMB")
    amount = f" ({size / 1024:.0f} GB)" if isinstance(size, int | float) and size > 0 else ""
    return (
        "protection is disabled and enabled again: its recovery points are lost and it replicates from scratch "
        f"(initial replication of its disks again{amount})"
    )


@dataclass(frozen=True)
class KindInfo:
    kind: str
    title: str
    creatable: bool = True
    immutable: frozenset[str] = frozenset()
    case_insensitive: frozenset[str] = frozenset()
    unordered: frozenset[str] = frozenset()
    disruption: Disruption = field(default=_never)
    # Where objects of the kind live: "site" (the provider's VMM server and vault) and/or "tenant".
    scopes: frozenset[str] = frozenset({"tenant"})
    # Values the live system reports under another name: field -> {alias (casefolded): canonical}.
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Objects carry ownership tags (Azure resources): one that exists without them was made by someone
    # else and is reported, never changed or deleted, until an operator tags it (adopts it).
    owner_tags: bool = False
    # What a missing object of a configure-only kind is called in messages ("VM does not exist").
    noun: str = ""
    # A configure-only kind whose live objects no spec declares are still reported (a tenant's VMs):
    # read in every managed scope, listed as not declared, never deleted.
    report_undeclared: bool = False
    # Inventory, not configuration: read for health and host procedures, never declared in specs or planned.
    inventory: bool = False
    # Fields held in MB that reports show with units, as operators write them in specs.
    memory_fields: frozenset[str] = frozenset()
    # The engine procedure a change of this kind runs instead of a plain provider call ("host-reboot":
    # maintenance, stage, reset, confirm, leave; see engine/procedures).
    procedure: str = ""
    # The error for a configure-only object that does not exist, when the kind says more than "does not exist"
    # (what to do about it); ``{name}`` is the object's name, ``{scope}`` its site or tenant.
    missing: str = ""
    # Kinds of dependencies that cannot change while an object of this kind exists on them (ASR cannot remove a
    # policy's container mapping while VMs replicate with the policy). When an object of this kind is replaced
    # and such a dependency changes in the same plan, the dependency's step deletes the object first (the first
    # half of its replace) and the object's own step creates it again afterwards (the planner's ``vacates``).
    vacate_for: frozenset[str] = frozenset()

    def canonical(self, name: str, value: Any) -> Any:
        """``value`` of field ``name`` under its canonical spelling (e.g. vault sku RS0 -> Standard)."""
        table = self.aliases.get(name)
        if table and isinstance(value, str):
            return table.get(value.casefold(), value)
        return value


_SITE_KINDS = {
    "asr.vault",
    "asr.vmm_server",
    "vmm.logical_network",
    "vmm.network_site",
    "vmm.ip_pool",
    "vmm.uplink_port_profile",
    "vmm.port_classification",
    "vmm.logical_switch",
    "vmm.host_switch",
    "bmc.bios",
    "host.power_policy",
    "host.state",
}


# Azure resources that take tags. ASR's own objects (policies, mappings, protected items) cannot.
_TAGGED_KINDS = {"asr.vault", "azure.resource_group", "azure.storage_account", "azure.virtual_network"}


def _k(kind: str, title: str, **kw: Any) -> KindInfo:
    if kind in _TAGGED_KINDS:
        kw.setdefault("owner_tags", True)
    if kind in ("vmm.vm_network", "azure.resource_group"):  # the provider's own, and the tenants'
        kw.setdefault("scopes", frozenset({"site", "tenant"}))
    elif kind in _SITE_KINDS:
        kw.setdefault("scopes", frozenset({"site"}))
    for key in ("immutable", "case_insensitive", "unordered", "memory_fields", "vacate_for"):
        if key in kw:
            kw[key] = frozenset(kw[key])
    return KindInfo(kind, title, **kw)


KINDS: dict[str, KindInfo] = {
    k.kind: k
    for k in (
        _k(
            "azure.resource_group",
            "resource group",
            immutable={"location", "subscriptionId"},
            case_insensitive={"name", "location"},
        ),
        _k(
            "asr.vault",
            "recovery vault",
            immutable={"location", "subscriptionId", "resourceGroup"},
            case_insensitive={"name", "resourceGroup", "location"},
            # PUT sku Standard reads back as {"name": "RS0", "tier": "Standard"} (DOMAIN.md).
            aliases={"sku": {"rs0": "Standard"}},
        ),
        _k(
            "asr.vmm_server",
            "VMM server registration",
            creatable=False,
            noun="VMM server registration",
            case_insensitive={"server", "vault"},
            missing=(
                "VMM server {name} is not registered with the site's recovery vault: download the vault "
                "settings file (Get-AzRecoveryServicesVaultSettingsFile -SiteRecovery, or the portal's Prepare "
                "infrastructure), install the Azure Site Recovery Provider on {name} (AzureSiteRecoveryProvider.exe, "
                "setupdr.exe /i), register it (DRConfigurator.exe /r /Friendlyname {name} /Credentials <file>), "
                "and the Recovery Services agent on each Hyper-V host; then plan again (docs/azure.md)"
            ),
        ),
        _k("vmm.logical_network", "logical network", case_insensitive={"name"}),
        _k(
            "vmm.network_site",
            "network site",
            immutable={"logicalNetwork"},
            case_insensitive={"name", "logicalNetwork", "hostGroups"},
            unordered={"hostGroups", "subnets"},
        ),
        _k(
            "vmm.ip_pool",
            "IP pool",
            immutable={"subnet", "networkSite"},
            case_insensitive={"name", "networkSite"},
            # dnsServers stays ordered: the first is the primary resolver VMM hands out.
        ),
        _k(
            "vmm.uplink_port_profile",
            "uplink port profile",
            case_insensitive={"name", "networkSites"},
            unordered={"networkSites"},
        ),
        _k("vmm.port_classification", "port classification", case_insensitive={"name"}),
        _k(
            "vmm.logical_switch",
            "logical switch",
            immutable={"sriov", "uplinkMode"},
            case_insensitive={"name", "uplinkPortProfiles", "portClassifications"},
            unordered={"uplinkPortProfiles", "portClassifications"},
        ),
        _k("vmm.host_switch", "switch on a host", case_insensitive={"host", "logicalSwitch"}),
        _k(
            "vmm.vm_network",
            "VM network",
            immutable={"logicalNetwork", "isolation"},
            case_insensitive={"name", "logicalNetwork"},
            unordered={"subnets"},
        ),
        _k(
            "vmm.cloud",
            "VMM cloud",
            case_insensitive={"name", "hostGroups", "logicalNetworks"},
            unordered={"hostGroups", "logicalNetworks"},
        ),
        _k(
            "azure.storage_account",
            "storage account",
            immutable={"location", "subscriptionId", "resourceGroup"},
            case_insensitive={"resourceGroup", "location", "sku"},
            # Older API versions and the portal spell the SKUs differently.
            aliases={
                "sku": {
                    "standard-lrs": "Standard_LRS",
                    "standard-grs": "Standard_GRS",
                    "standard-ragrs": "Standard_RAGRS",
                    "standard-zrs": "Standard_ZRS",
                    "premium-lrs": "Premium_LRS",
                }
            },
        ),
        _k(
            "azure.virtual_network",
            "virtual network",
            immutable={"location", "subscriptionId", "resourceGroup"},
            case_insensitive={"name", "resourceGroup", "location"},
            unordered={"addressSpace", "subnets"},
        ),
        _k(
            "asr.replication_policy",
            "replication policy",
            immutable={"vault"},
            case_insensitive={"name", "vault", "storageAccount"},
        ),
        _k("asr.policy_association", "policy association", case_insensitive={"cloud", "policy"}),
        _k(
            "asr.network_mapping",
            "network mapping",
            case_insensitive={"vmNetwork", "azureNetwork", "azureSubnet", "azureResourceGroup"},
        ),
        _k(
            "asr.protected_item",
            "protected VM",
            immutable={"storageAccount", "policy", "replicateTo", "diskType"},
            disruption=_reprotection,
            vacate_for={"asr.policy_association"},
            case_insensitive={
                "vm",
                "cloud",
                "policy",
                "storageAccount",
                "targetNetwork",
                "targetSubnet",
                "targetResourceGroup",
            },
        ),
        _k(
            "asr.recovery_plan",
            "recovery plan",
            case_insensitive={"name", "groups"},
        ),
        _k(
            "hyperv.vm_memory",
            "VM memory",
            creatable=False,
            disruption=_memory_disruption,
            noun="VM",
            report_undeclared=True,
            memory_fields={"startup", "minimum", "maximum"},
        ),
        _k(
            "bmc.bios",
            "BIOS settings",
            creatable=False,
            disruption=_bios_disruption,
            noun="host",
            procedure="host-reboot",
        ),
        _k(
            "host.power_policy",
            "host power policy",
            creatable=False,
            case_insensitive={"powerPlan", "policy"},
            noun="host",
        ),
        # A host as its hypervisor manager sees it (VMM, vCenter): maintenance, connection, CPU ready.
        _k("host.state", "host", creatable=False, inventory=True, noun="host"),
    )
}

HOST_KIND = "host.state"

# Apply order when two changes have no dependency between them: the order VMM and ASR need.
ORDER = list(KINDS)


def info(kind: str) -> KindInfo:
    return KINDS[kind]
