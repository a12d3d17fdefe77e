"""The real systems' rules, enforced by the embedded estate so it teaches the same lessons:
dependencies must exist before what needs them, a tenant's storage account lives in the vault's region,
a running VM refuses memory changes that need it off, a host reboots only in maintenance mode.

The rules look at the estate through a :class:`View`: when a real backend serves some kinds (VMM over WinRM,
Azure), an object of those kinds counts as present here, since that backend and the real system check it."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.errors import PermanentError, PreconditionError
from reconciler.core.resources import Resource
from reconciler.providers.embedded.store import EstateStore, Row


class View:
    """The estate as the rules see it: its rows for what it serves; an object that another backend serves
    (``serves`` says False) reads as present, with no data."""

    def __init__(self, store: EstateStore, serves: Callable[[Address], bool] | None = None) -> None:
        self.store = store
        self.serves = serves or (lambda _address: True)

    def get(self, address: Address) -> Row | None:
        if not self.serves(address):
            return Row(address, {})
        return self.store.get(address)

    def list(self, kind: str, scope: str | None = None) -> list[Row]:
        return self.store.list(kind, scope)


Check = Callable[[View, Resource], None]


def _need(store: View, address: Address, why: str) -> None:
    if store.get(address) is None:
        raise PermanentError(f"{why}: {address} does not exist", code="DependencyMissing")


def _site(r: Resource, kind: str, name: str) -> Address:
    return Address(kind, r.site, name)


def _tenant(r: Resource, kind: str, name: str) -> Address:
    return Address(kind, r.tenant or r.site, name)


def _vault(store: View, r: Resource) -> Address:
    vaults = store.list("asr.vault", r.site)
    if not vaults:
        raise PermanentError(f"site {r.site!r} has no recovery vault registered", code="VaultNotFound")
    return vaults[0].address


def _network_site(store: View, r: Resource) -> None:
    d = typed.of(r, typed.NetworkSite)
    _need(store, _site(r, "vmm.logical_network", d["logicalNetwork"]), "New-SCLogicalNetworkDefinition")


def _ip_pool(store: View, r: Resource) -> None:
    d = typed.of(r, typed.IpPool)
    _need(store, _site(r, "vmm.network_site", d["networkSite"]), "New-SCStaticIPAddressPool")


def _uplink(store: View, r: Resource) -> None:
    d = typed.of(r, typed.UplinkPortProfile)
    for ns in d["networkSites"]:
        _need(store, _site(r, "vmm.network_site", ns), "New-SCNativeUplinkPortProfile")


def _switch(store: View, r: Resource) -> None:
    d = typed.of(r, typed.LogicalSwitch)
    for up in d["uplinkPortProfiles"]:
        _need(store, _site(r, "vmm.uplink_port_profile", up), "New-SCUplinkPortProfileSet")
    for pc in d["portClassifications"]:
        _need(store, _site(r, "vmm.port_classification", pc), "New-SCLogicalSwitch")


def _host_switch(store: View, r: Resource) -> None:
    d = typed.of(r, typed.HostSwitch)
    _need(store, _site(r, "host.state", d["host"]), "Set-SCVMHost")
    _need(store, _site(r, "vmm.logical_switch", d["logicalSwitch"]), "New-SCVirtualNetwork")


def _vm_network(store: View, r: Resource) -> None:
    d = typed.of(r, typed.VmNetwork)
    ln = store.get(_site(r, "vmm.logical_network", d["logicalNetwork"]))
    if ln is None:
        raise PermanentError(f"New-SCVMNetwork: logical network {d['logicalNetwork']!r} does not exist")
    if d["isolation"] == "WindowsNetworkVirtualization" and not ln.data.get("networkVirtualization"):
        raise PermanentError(
            f"New-SCVMNetwork: logical network {ln.address.name!r} does not have network virtualization enabled"
        )


def _cloud(store: View, r: Resource) -> None:
    d = typed.of(r, typed.Cloud)
    for ln in d["logicalNetworks"]:
        _need(store, _site(r, "vmm.logical_network", ln), "Set-SCCloud -AddCloudResource")


def _vault_group(store: View, r: Resource) -> None:
    d = typed.of(r, typed.Vault)
    _need(store, _site(r, "azure.resource_group", d["resourceGroup"]), "recovery vault")


def _storage(store: View, r: Resource) -> None:
    d = typed.of(r, typed.StorageAccount)
    _need(store, _tenant(r, "azure.resource_group", d["resourceGroup"]), "storage account")
    vault = store.get(_vault(store, r))
    assert vault is not None
    if str(d["location"]).casefold() != str(vault.data["location"]).casefold():
        raise PermanentError(
            f"storage account {d['name']!r} in {d['location']!r} cannot serve vault "
            f"{vault.address.name!r} in {vault.data['location']!r}: it must be in the vault's region",
            code="InvalidStorageAccountRegion",
        )


def _vnet(store: View, r: Resource) -> None:
    d = typed.of(r, typed.VirtualNetwork)
    _need(store, _tenant(r, "azure.resource_group", d["resourceGroup"]), "virtual network")


def _policy(store: View, r: Resource) -> None:
    d = typed.of(r, typed.ReplicationPolicy)
    _need(store, _site(r, "asr.vault", d["vault"]), "replication policy")
    _need(store, _tenant(r, "azure.storage_account", d["storageAccount"]), "replication policy")


def _association(store: View, r: Resource) -> None:
    d = typed.of(r, typed.PolicyAssociation)
    _need(store, _tenant(r, "asr.replication_policy", d["policy"]), "container mapping")
    _need(store, _tenant(r, "vmm.cloud", d["cloud"]), "container mapping")
    _registered(store, r)


def _registered(store: View, r: Resource) -> None:
    """ASR objects under the VMM server's fabric need the server registered with the vault."""
    if not store.list("asr.vmm_server", r.site):
        raise PermanentError(
            f"the VMM server of site {r.site!r} is not registered with its vault", code="FabricNotFound"
        )


def _association_update(store: View, r: Resource) -> None:
    """ASR removes the cloud's mapping to the old policy and pairs the new one: refused while VMs of the cloud
    replicate with the old policy (disable their protection first)."""
    d = typed.of(r, typed.PolicyAssociation)
    _association(store, r)
    current = store.get(r.address)
    old = str((current.data if current is not None else {}).get("policy", ""))
    if not old or old.casefold() == str(d["policy"]).casefold():
        return
    users = [
        item.address.name
        for item in store.list("asr.protected_item", r.tenant)
        if str(item.data.get("cloud", "")).casefold() == str(d["cloud"]).casefold()
        and str(item.data.get("policy", "")).casefold() == old.casefold()
    ]
    if users:
        raise PermanentError(
            f"cannot remove the mapping of {d['cloud']!r} to policy {old!r}: VMs replicate with it "
            f"({', '.join(users)}); disable their protection first",
            code="ProtectionContainerMappingInUse",
        )


def _recovery_plan(store: View, r: Resource) -> None:
    """Every VM of a recovery plan is a protected VM of the tenant."""
    d = typed.of(r, typed.RecoveryPlan)
    for group in d["groups"]:
        for vm in group:
            _need(store, _tenant(r, "asr.protected_item", vm), f"recovery plan {d['name']!r}")


def _mapping(store: View, r: Resource) -> None:
    d = typed.of(r, typed.NetworkMapping)
    _need(store, _tenant(r, "vmm.vm_network", d["vmNetwork"]), "network mapping")
    _registered(store, r)
    vnet = store.get(_tenant(r, "azure.virtual_network", d["azureNetwork"]))
    if vnet is None:
        raise PermanentError(f"network mapping: Azure network {d['azureNetwork']!r} does not exist")
    subnets = {str(s["name"]).casefold() for s in vnet.data.get("subnets", [])}
    if str(d["azureSubnet"]).casefold() not in subnets:
        raise PermanentError(f"network mapping: subnet {d['azureSubnet']!r} is not in {vnet.address.name!r}")


def _protected(store: View, r: Resource) -> None:
    d = typed.of(r, typed.ProtectedItem)
    if store.get(_tenant(r, "hyperv.vm_memory", d["vm"])) is None:
        raise PermanentError(f"enable protection: VM {d['vm']!r} does not exist", code="ProtectableItemNotFound")
    _need(store, _tenant(r, "asr.policy_association", d["cloud"]), "enable protection (cloud not paired)")
    mapped = store.list("asr.network_mapping", r.tenant)
    if not any(str(m.data.get("azureNetwork", "")).casefold() == str(d["targetNetwork"]).casefold() for m in mapped):
        raise PermanentError(
            f"enable protection: no network mapping to {d['targetNetwork']!r}", code="NetworkMappingNotFound"
        )
    _need(store, _tenant(r, "azure.storage_account", d["storageAccount"]), "enable protection")


CREATE_CHECKS: dict[str, Check] = {
    "vmm.network_site": _network_site,
    "vmm.ip_pool": _ip_pool,
    "vmm.uplink_port_profile": _uplink,
    "vmm.logical_switch": _switch,
    "vmm.host_switch": _host_switch,
    "vmm.vm_network": _vm_network,
    "vmm.cloud": _cloud,
    "azure.storage_account": _storage,
    "azure.virtual_network": _vnet,
    "asr.replication_policy": _policy,
    "asr.policy_association": _association,
    "asr.network_mapping": _mapping,
    "asr.protected_item": _protected,
    "asr.recovery_plan": _recovery_plan,
    "asr.vault": _vault_group,
}

# Updates re-check the same references (a cloud gaining a logical network needs it to exist).
UPDATE_CHECKS: dict[str, Check] = {
    **{
        k: CREATE_CHECKS[k]
        for k in (
            "vmm.cloud",
            "vmm.logical_switch",
            "vmm.uplink_port_profile",
            "asr.network_mapping",
            "asr.recovery_plan",
        )
    },
    "asr.policy_association": _association_update,
}


# What refers to an object of each kind, by (kind, field holding the name, scope: "site" or "tenant").
_REFERENCED_BY: dict[str, tuple[tuple[str, str], ...]] = {
    "vmm.logical_network": (("vmm.network_site", "logicalNetwork"), ("vmm.vm_network", "logicalNetwork")),
    "vmm.network_site": (("vmm.ip_pool", "networkSite"),),
    "vmm.uplink_port_profile": (("vmm.logical_switch", "uplinkPortProfiles"),),
    "vmm.port_classification": (("vmm.logical_switch", "portClassifications"),),
    "vmm.logical_switch": (("vmm.host_switch", "logicalSwitch"),),
    "vmm.vm_network": (("asr.network_mapping", "vmNetwork"),),
    "vmm.cloud": (("asr.policy_association", "cloud"),),
    "azure.resource_group": (("azure.storage_account", "resourceGroup"), ("azure.virtual_network", "resourceGroup")),
    "azure.storage_account": (("asr.replication_policy", "storageAccount"), ("asr.protected_item", "storageAccount")),
    "azure.virtual_network": (("asr.network_mapping", "azureNetwork"),),
    "asr.replication_policy": (("asr.policy_association", "policy"),),
    "asr.policy_association": (("asr.protected_item", "cloud"),),
}


def check_delete(store: View | EstateStore, row: Row) -> None:
    """Refuse to delete what something still uses (VMM and ASR refuse the same way)."""
    name = row.address.name.casefold()
    for kind, field in _REFERENCED_BY.get(row.address.kind, ()):
        for other in store.list(kind):
            value = other.data.get(field)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and v.casefold() == name for v in values) and _same_scope(row, other):
                raise PermanentError(f"cannot delete {row.address}: {other.address} still uses it", code="InUse")


def _same_scope(row: Row, other: Row) -> bool:
    """Site objects are used by anything on the site; tenant objects only within the tenant."""
    if row.address.kind.startswith(
        ("vmm.logical_network", "vmm.network_site", "vmm.uplink", "vmm.port", "vmm.logical_switch")
    ):
        return True
    return row.address.scope == other.address.scope


def check_create(store: View, resource: Resource) -> None:
    check = CREATE_CHECKS.get(resource.kind)
    if check is not None:
        check(store, resource)


def check_update(store: View, resource: Resource) -> None:
    check = UPDATE_CHECKS.get(resource.kind)
    if check is not None:
        check(store, resource)


def require_off(status: dict[str, object], vm: str, why: str) -> None:
    if str(status.get("powerState", "")).casefold() == "running":
        raise PreconditionError(f"Set-VMMemory refused on running VM {vm!r}: {why}", code="VMRunning")


def require_maintenance(status: dict[str, object], host: str) -> None:
    if not status.get("maintenance"):
        raise PreconditionError(f"host {host!r} must be in maintenance mode before it reboots", code="NotInMaintenance")
