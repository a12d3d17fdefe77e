"""The Azure provider: reads with one list call per collection and applies through the SDK's long-running
operations, following Azure Site Recovery's jobs until they end.

Read scopes (one list call each, paged):
- the site's vault: the vault (vaults in its resource group), and vault-wide lists of replication
  policies, container mappings (policy associations), network mappings and protected items;
- a tenant's subscription: its resource groups;
- a tenant's recovery resource group: its storage accounts, its virtual networks.

Ownership: vaults, resource groups, storage accounts and virtual networks carry the tool's tags
(``managed-by: reconciler``, the tenant or site, the prune/protect lifecycle); one found without them is
reported and never changed (the planner's ``unowned``). ASR's own objects take no tags: what the tool
creates there is recorded in the store's ownership ledger, which prune trusts as it trusts a tag.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, ResourceChange
from reconciler.core.errors import PermanentError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import AzureContext, TenantRef, VaultRef
from reconciler.providers.azure.normalize import RECOVERY_FABRIC, Normalized
from reconciler.providers.azure.settings import AzureSettings, make_credential
from reconciler.providers.base import BaseProvider
from reconciler.store import ownership
from reconciler.store.db import Store

KINDS = frozenset(
    {
        "asr.vault",
        "asr.replication_policy",
        "asr.policy_association",
        "asr.network_mapping",
        "asr.protected_item",
        "azure.resource_group",
        "azure.storage_account",
        "azure.virtual_network",
    }
)
_ASR_CHILDREN = {"asr.replication_policy", "asr.policy_association", "asr.network_mapping", "asr.protected_item"}
_JOB = re.compile(r"/replicationJobs/([^/?]+)", re.IGNORECASE)
_TERMINAL = {"succeeded", "failed", "cancelled", "suspended", "completedwithinformation"}

Progress = Callable[[str], None]


@dataclass
class _Topology:
    """A vault's fabric for the site's VMM server, and its clouds (protection containers) and VM networks."""

    fabric: str
    containers: dict[str, str]  # cloud (casefolded friendly name) -> container name
    networks: dict[str, str]  # VM network (casefolded friendly name) -> ASR network name


@dataclass(frozen=True)
class _Step:
    """What a write handler needs to know of the planned change."""

    change: ResourceChange

    @property
    def create(self) -> bool:
        return self.change.action in (Action.CREATE, Action.REPLACE)

    @property
    def lifecycle_only(self) -> bool:
        """An update that only rewrites the ownership marker: the object already matches the spec."""
        return self.change.action_reason is ActionReason.LIFECYCLE


class MemoryLedger:
    """The ownership ledger without a store (tests, or a run that must not write one)."""

    def __init__(self) -> None:
        self.markers: dict[str, ownership.Marker] = {}

    def record(self, object_id: str, marker: ownership.Marker) -> None:
        self.markers[object_id.casefold()] = marker

    def forget(self, object_id: str) -> None:
        self.markers.pop(object_id.casefold(), None)

    def lookup(self, object_ids: Iterable[str]) -> dict[str, ownership.Marker]:
        return {i.casefold(): self.markers[i.casefold()] for i in object_ids if i.casefold() in self.markers}


class StoreLedger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, object_id: str, marker: ownership.Marker) -> None:
        ownership.record(self.store, object_id, marker)

    def forget(self, object_id: str) -> None:
        ownership.forget(self.store, object_id)

    def lookup(self, object_ids: Iterable[str]) -> dict[str, ownership.Marker]:
        return ownership.lookup(self.store, object_ids)


def _plain(obj: Any) -> dict[str, Any]:
    """An SDK model (or a dict) as wire-shaped JSON."""
    if isinstance(obj, Mapping):
        return dict(obj)
    as_dict = getattr(obj, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else {}


def _version(obj: Mapping[str, Any], n: Normalized) -> str:
    etag = obj.get("etag")
    if etag:
        return str(etag)
    digest = json.dumps({"data": n.data, "marker": n.status.get("marker")}, sort_keys=True, default=str)
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


class AzureProvider(BaseProvider):
    name = "azure"
    kinds = KINDS

    def __init__(
        self,
        settings: AzureSettings,
        context: AzureContext,
        *,
        store: Store | None = None,
        credential_factory: Callable[[str | None], Any] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.context = context
        self.ledger: MemoryLedger | StoreLedger = StoreLedger(store) if store is not None else MemoryLedger()
        self._credential_factory = credential_factory or (lambda tenant: make_credential(settings, tenant))
        self._client_kwargs = dict(client_kwargs) if client_kwargs is not None else settings.client_kwargs()
        self._lock = threading.Lock()
        self._credentials: dict[str | None, Any] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._topology: dict[str, _Topology] = {}

    # --- clients -----------------------------------------------------------------------------------

    def _credential(self, ad_tenant: str | None) -> Any:
        with self._lock:
            if ad_tenant not in self._credentials:
                try:
                    self._credentials[ad_tenant] = self._credential_factory(ad_tenant)
                except ValueError as exc:  # a setting the credential needs is missing or wrong
                    message = f"Azure credential for tenant {ad_tenant}: {exc}"
                    raise PermanentError(message, code="NoCredential") from exc
            return self._credentials[ad_tenant]

    def _client(self, family: str, subscription: str, ad_tenant: str | None) -> Any:
        key = (family, subscription.casefold())
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        credential = self._credential(ad_tenant)
        if family == "asr":
            from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

            client = SiteRecoveryManagementClient(credential, subscription, **self._client_kwargs)
        elif family == "vaults":
            from azure.mgmt.recoveryservices import RecoveryServicesClient

            client = RecoveryServicesClient(credential, subscription, **self._client_kwargs)
        elif family == "resources":
            from azure.mgmt.resource.resources import ResourceManagementClient

            client = ResourceManagementClient(credential, subscription, **self._client_kwargs)
        elif family == "storage":
            from azure.mgmt.storage import StorageManagementClient

            client = StorageManagementClient(credential, subscription, **self._client_kwargs)
        else:
            from azure.mgmt.network import NetworkManagementClient

            client = NetworkManagementClient(credential, subscription, **self._client_kwargs)
        with self._lock:
            return self._clients.setdefault(key, client)

    def _vault_client(self, family: str, vault: VaultRef) -> Any:
        return self._client(family, vault.subscription, self.settings.home_tenant)

    def _tenant_client(self, family: str, tenant: TenantRef) -> Any:
        return self._client(family, tenant.subscription, tenant.ad_tenant)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            credentials, self._credentials = list(self._credentials.values()), {}
        for thing in [*clients, *credentials]:
            close = getattr(thing, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):  # closing is best effort
                    close()

    # --- context -----------------------------------------------------------------------------------

    def _vault(self, site: str) -> VaultRef:
        try:
            return self.context.vaults[site]
        except KeyError:
            raise PermanentError(f"no site {site!r} in the specs: cannot tell which vault to use") from None

    def _tenant(self, name: str | None) -> TenantRef:
        if name is None or name not in self.context.tenants:
            raise PermanentError(f"no tenant {name!r} in the specs: cannot tell which subscription to use")
        return self.context.tenants[name]

    def read_scope(self, resource: Resource) -> str:
        kind = resource.kind
        if kind == "asr.vault" or kind in _ASR_CHILDREN:
            return f"vault/{resource.site or resource.address.scope}"
        tenant = self._tenant(resource.tenant or resource.address.scope)
        if kind == "azure.resource_group":
            return f"subscription/{tenant.subscription}"
        return f"resource-group/{tenant.subscription}/{tenant.resource_group or '-'}"

    # --- reading -----------------------------------------------------------------------------------

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        if not resources:
            return {}
        kind = resources[0].kind
        first = resources[0]
        found: list[tuple[dict[str, Any], Normalized]]
        if kind == "asr.vault":
            vault = self._vault(first.site or first.address.scope)
            found = self._list(
                f"list vaults in {vault.resource_group}",
                lambda: self._vault_client("vaults", vault).vaults.list_by_resource_group(vault.resource_group),
                normalize.vault,
            )
            found = [(o, n) for o, n in found if arm.same(n.name, vault.name)]
        elif kind in _ASR_CHILDREN:
            return self._read_asr(kind, first.site or first.address.scope, resources)
        else:
            tenant = self._tenant(first.tenant or first.address.scope)
            found = self._read_tenant_side(kind, tenant)
        return self._match(resources, found)

    def _list(
        self, what: str, call: Callable[[], Iterable[Any]], norm: Callable[[Mapping[str, Any]], Normalized | None]
    ) -> list[tuple[dict[str, Any], Normalized]]:
        """One list call (every page), normalized; a missing parent (resource group, vault) is an empty list."""
        from azure.core.exceptions import ResourceNotFoundError

        out: list[tuple[dict[str, Any], Normalized]] = []
        try:
            with arm.boundary(what):
                for item in call():
                    obj = _plain(item)
                    n = norm(obj)
                    if n is not None:
                        out.append((obj, n))
        except PermanentError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError) or exc.code in {"ResourceGroupNotFound", "NotFound"}:
                return []
            raise
        return out

    def _read_tenant_side(self, kind: str, tenant: TenantRef) -> list[tuple[dict[str, Any], Normalized]]:
        if kind == "azure.resource_group":
            client = self._tenant_client("resources", tenant)
            return self._list(
                f"list resource groups in subscription {tenant.subscription}",
                client.resource_groups.list,
                normalize.resource_group,
            )
        rg = tenant.resource_group
        if rg is None:
            return []
        if kind == "azure.storage_account":
            storage = self._tenant_client("storage", tenant)
            return self._list(
                f"list storage accounts in {rg}",
                lambda: storage.storage_accounts.list_by_resource_group(rg),
                normalize.storage_account,
            )
        network = self._tenant_client("network", tenant)
        return self._list(
            f"list virtual networks in {rg}", lambda: network.virtual_networks.list(rg), normalize.virtual_network
        )

    def _match(
        self, resources: Sequence[Resource], found: list[tuple[dict[str, Any], Normalized]]
    ) -> dict[Address, Observed | None]:
        """Tagged kinds: each asked resource's object by name; objects nobody asked for only when they carry
        the tool's tags for a scope asked about (a customer's subscription holds much that is not ours)."""
        out: dict[Address, Observed | None] = {}
        scopes = {r.address.scope for r in resources}
        kind = resources[0].kind
        by_name = {n.name.casefold(): (o, n) for o, n in found}
        for r in resources:
            hit = by_name.pop(r.address.name.casefold(), None)
            out[r.address] = self._observed(r.address, *hit) if hit is not None else None
        for obj, n in by_name.values():
            if n.owned and n.scope in scopes:
                address = Address(kind, n.scope, n.name)
                out.setdefault(address, self._observed(address, obj, n))
        return out

    def _observed(self, address: Address, obj: Mapping[str, Any], n: Normalized) -> Observed:
        return Observed(address=address, data=n.data, status=n.status, owned=n.owned, version=_version(obj, n))

    def _read_asr(self, kind: str, site: str, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        vault = self._vault(site)
        asr = self._vault_client("asr", vault)
        rg, name = vault.resource_group, vault.name
        found: list[tuple[dict[str, Any], Normalized]]
        if kind == "asr.replication_policy":
            found = self._list(
                f"list replication policies in vault {name}",
                lambda: asr.replication_policies.list(rg, name),
                lambda o: normalize.replication_policy(o, vault.name),
            )
        elif kind == "asr.policy_association":
            found = self._list(
                f"list container mappings in vault {name}",
                lambda: asr.replication_protection_container_mappings.list(rg, name),
                normalize.policy_association,
            )
        elif kind == "asr.network_mapping":
            found = self._list(
                f"list network mappings in vault {name}",
                lambda: asr.replication_network_mappings.list(rg, name),
                normalize.network_mapping,
            )
        else:
            found = self._list(
                f"list protected items in vault {name}",
                lambda: asr.replication_protected_items.list(rg, name),
                normalize.protected_item,
            )
        markers = self.ledger.lookup(str(o.get("id", "")) for o, _ in found)
        scopes = {r.address.scope for r in resources}
        # Whose object is it: VM names repeat across tenants, so a protected item is its cloud's tenant's.
        by_key: dict[tuple[str, str], tuple[dict[str, Any], Normalized]] = {}
        for obj, n in found:
            tenant = self._tenant_of(kind, site, n)
            if tenant is not None:
                by_key.setdefault((tenant, n.name.casefold()), (obj, n))
        out: dict[Address, Observed | None] = {}
        for r in resources:
            hit = by_key.pop((r.address.scope, r.address.name.casefold()), None)
            if hit is None:
                out[r.address] = None
                continue
            obj, n = hit
            if kind == "asr.network_mapping" and "azureSubnet" in r.desired:
                # ASR keeps the subnet on each protected VM, not on the mapping: the mapping's subnet is the
                # spec's (a wrong one shows on the protected items' targetSubnet).
                n.data["azureSubnet"] = r.desired["azureSubnet"]
            out[r.address] = self._asr_observed(r.address, obj, n, markers)
        for (tenant, _), (obj, n) in by_key.items():
            if tenant in scopes:
                address = Address(kind, tenant, n.name)
                out.setdefault(address, self._asr_observed(address, obj, n, markers))
        return out

    def _asr_observed(
        self, address: Address, obj: Mapping[str, Any], n: Normalized, markers: Mapping[str, ownership.Marker]
    ) -> Observed:
        marker = markers.get(str(obj.get("id", "")).casefold())
        if marker is not None:
            n.owned = True
            n.status["marker"] = {"managedBy": normalize.TOOL, "prune": marker.prune, "protect": marker.protect}
        return self._observed(address, obj, n)

    def read_one(self, resource: Resource) -> Observed | None:
        """One object, as the engine re-reads it right before changing it (and as apply reads it back):
        a GET, or a list in its own container or VM network, never the vault-wide lists a plan uses (at a
        thousand tenants those would make every step's re-read cost the whole vault)."""
        from azure.core.exceptions import ResourceNotFoundError

        kind, address, d = resource.kind, resource.address, resource.desired
        obj: dict[str, Any] | None = None
        try:
            if kind == "asr.vault":
                vault = self._vault(resource.site or address.scope)
                vaults = self._vault_client("vaults", vault).vaults
                obj = self._get(f"get vault {vault.name}", lambda: vaults.get(vault.resource_group, vault.name))
                n = normalize.vault(obj) if obj is not None else None
            elif kind in _ASR_CHILDREN:
                return self._read_one_asr(resource)
            else:
                tenant = self._tenant(resource.tenant or address.scope)
                rg = d.get("resourceGroup") or tenant.resource_group or ""
                if kind == "azure.resource_group":
                    groups = self._tenant_client("resources", tenant).resource_groups
                    obj = self._get(f"get resource group {address.name}", lambda: groups.get(address.name))
                    n = normalize.resource_group(obj) if obj is not None else None
                elif kind == "azure.storage_account":
                    accounts = self._tenant_client("storage", tenant).storage_accounts
                    obj = self._get(
                        f"get storage account {address.name}", lambda: accounts.get_properties(rg, address.name)
                    )
                    n = normalize.storage_account(obj) if obj is not None else None
                else:
                    networks = self._tenant_client("network", tenant).virtual_networks
                    obj = self._get(f"get virtual network {address.name}", lambda: networks.get(rg, address.name))
                    n = normalize.virtual_network(obj) if obj is not None else None
        except PermanentError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError) or exc.code == "ResourceGroupNotFound":
                return None
            raise
        return self._observed(address, obj, n) if obj is not None and n is not None else None

    def _read_one_asr(self, resource: Resource) -> Observed | None:
        kind, address, d = resource.kind, resource.address, resource.desired
        tenant = self._tenant(resource.tenant or address.scope)
        vault = self._vault(tenant.site)
        asr = self._vault_client("asr", vault)
        obj: dict[str, Any] | None
        n: Normalized | None
        try:
            if kind == "asr.replication_policy":
                obj = self._get(
                    f"get replication policy {address.name}",
                    lambda: asr.replication_policies.get(vault.resource_group, vault.name, address.name),
                )
                n = normalize.replication_policy(obj, vault.name) if obj is not None else None
            elif kind == "asr.policy_association":
                obj = self._find_mapping(vault, address.name)
                n = normalize.policy_association(obj) if obj is not None else None
            elif kind == "asr.network_mapping":
                fabric, network = self._asr_network(vault, address.name)
                with arm.boundary(f"list network mappings of VM network {address.name}"):
                    found = asr.replication_network_mappings.list_by_replication_networks(
                        vault.resource_group, vault.name, fabric, network
                    )
                    pairs = [(o, normalize.network_mapping(o)) for o in map(_plain, found)]
                obj, n = next(((o, m) for o, m in pairs if m is not None), (None, None))
                if n is not None and "azureSubnet" in d:
                    n.data["azureSubnet"] = d["azureSubnet"]
            else:
                fabric, container = self._container(vault, str(d.get("cloud") or tenant.cloud))
                obj = self._find_item(vault, fabric, container, address.name)
                n = normalize.protected_item(obj) if obj is not None else None
        except PermanentError as exc:
            if exc.code in {"ContainerNotFound", "NetworkNotFound", "ResourceNotFound"}:
                return None  # the cloud or network is not in the vault yet: nothing of it can exist either
            raise
        if obj is None or n is None:
            return None
        return self._asr_observed(address, obj, n, self.ledger.lookup([str(obj.get("id", ""))]))

    def _tenant_of(self, kind: str, site: str, n: Normalized) -> str | None:
        if kind == "asr.replication_policy":
            sub = n.status.get("storageSubscription")
            return self.context.tenant_of_subscription(site, str(sub)) if sub else None
        if kind == "asr.network_mapping":
            return self.context.tenant_of_vm_network(site, n.name)
        return self.context.tenant_of_cloud(site, str(n.data.get("cloud") or ""))

    # --- applying ----------------------------------------------------------------------------------

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress | None = None) -> Observed | None:
        report = progress or (lambda _message: None)
        kind = resource.kind
        if change.action is Action.DELETE:
            self._delete(change.address, resource, report)
            return None
        if change.action is Action.REPLACE:
            if kind != "asr.protected_item":
                raise PermanentError(
                    f"{change.address}: {change.reason}; replacing it would delete it and what it holds, which "
                    "reconciler never does to Azure resources: recreate it by hand, or change the spec back",
                    code="ReplaceRefused",
                )
            self._delete(change.address, resource, report, pruning=False)
        handler = {
            "asr.vault": self._put_vault,
            "azure.resource_group": self._put_resource_group,
            "azure.storage_account": self._put_storage_account,
            "azure.virtual_network": self._put_virtual_network,
            "asr.replication_policy": self._put_policy,
            "asr.policy_association": self._put_association,
            "asr.network_mapping": self._put_network_mapping,
            "asr.protected_item": self._put_protected_item,
        }[kind]
        handler(resource, _Step(change), report)
        observed = self.read_one(resource)
        if observed is None:
            raise PermanentError(f"{resource.address} was written but does not read back", code="NotFound")
        return observed

    def _tags(self, resource: Resource, existing: Mapping[str, Any] | None, scope_tag: str) -> dict[str, str]:
        """The object's tags with the tool's own set (others' tags are kept)."""
        ours = normalize.owner_tags(
            scope_tag=scope_tag,
            scope=resource.address.scope,
            prune=resource.policy.prune,
            protect=resource.policy.protect,
        )
        keep = {
            k: v
            for k, v in ((existing or {}).get("tags") or {}).items()
            if k.casefold() not in {t.casefold() for t in ours}
        }
        return {**keep, **ours}

    def _get(self, what: str, call: Callable[[], Any]) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm.boundary(what):
                return _plain(call())
        except PermanentError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    @staticmethod
    def _refuse_foreign(address: Address, existing: Mapping[str, Any] | None) -> None:
        """Never change a tagged kind's object that lacks the tool's tags (the planner holds these too)."""
        if existing is not None and not normalize.ownership(existing, normalize.TAG_TENANT)[0]:
            raise PermanentError(
                f"{address} exists without the managed-by=reconciler tag: not changing it (tag it to adopt it)",
                code="NotOwned",
            )

    def _put_vault(self, resource: Resource, step: _Step, report: Progress) -> None:
        vault = self._vault(resource.site or resource.address.scope)
        client = self._vault_client("vaults", vault).vaults
        d = resource.desired
        existing = self._get(f"get vault {vault.name}", lambda: client.get(vault.resource_group, vault.name))
        tags = self._tags(resource, existing, normalize.TAG_SITE)
        sku = {"name": d.get("sku", "Standard")}
        if existing is None:
            body: dict[str, Any] = {
                "location": d["location"],
                "sku": sku,
                "tags": tags,
                "properties": {"publicNetworkAccess": "Enabled"},
            }
            self._wait(
                f"create vault {vault.name}",
                lambda hook: client.begin_create_or_update(
                    vault.resource_group, vault.name, body, raw_response_hook=hook
                ),
                report,
            )
            return
        self._refuse_foreign(resource.address, existing)
        # PATCH what the spec manages: a PUT would reset the vault's other settings (redundancy, encryption).
        self._wait(
            f"update vault {vault.name}",
            lambda hook: client.begin_update(
                vault.resource_group, vault.name, {"sku": sku, "tags": tags}, raw_response_hook=hook
            ),
            report,
        )

    def _put_resource_group(self, resource: Resource, step: _Step, report: Progress) -> None:
        tenant = self._tenant(resource.tenant)
        client = self._tenant_client("resources", tenant).resource_groups
        d = resource.desired
        existing = self._get(f"get resource group {d['name']}", lambda: client.get(d["name"]))
        if not step.create:
            self._refuse_foreign(resource.address, existing)
        body: dict[str, Any] = {"location": d["location"], "tags": self._tags(resource, existing, normalize.TAG_TENANT)}
        with arm.boundary(f"create or update resource group {d['name']}"):
            client.create_or_update(d["name"], body)

    def _put_storage_account(self, resource: Resource, step: _Step, report: Progress) -> None:
        tenant = self._tenant(resource.tenant)
        client = self._tenant_client("storage", tenant).storage_accounts
        d = resource.desired
        rg, name = d["resourceGroup"], d["name"]
        existing = self._get(f"get storage account {name}", lambda: client.get_properties(rg, name))
        tags = self._tags(resource, existing, normalize.TAG_TENANT)
        if existing is None:
            body: dict[str, Any] = {
                "location": d["location"],
                "kind": "StorageV2",
                "sku": {"name": d["sku"]},
                "tags": tags,
                "properties": {
                    "minimumTlsVersion": "TLS1_2",
                    "allowBlobPublicAccess": False,
                    "supportsHttpsTrafficOnly": True,
                },
            }
            self._wait(
                f"create storage account {name}",
                lambda hook: client.begin_create(rg, name, body, raw_response_hook=hook),
                report,
            )
            return
        self._refuse_foreign(resource.address, existing)
        with arm.boundary(f"update storage account {name}"):
            client.update(rg, name, {"sku": {"name": d["sku"]}, "tags": tags})

    def _put_virtual_network(self, resource: Resource, step: _Step, report: Progress) -> None:
        tenant = self._tenant(resource.tenant)
        client = self._tenant_client("network", tenant).virtual_networks
        d = resource.desired
        rg, name = d["resourceGroup"], d["name"]
        existing = self._get(f"get virtual network {name}", lambda: client.get(rg, name))
        if existing is not None:
            self._refuse_foreign(resource.address, existing)
        old_subnets = {
            str(s.get("name", "")).casefold(): s
            for s in ((existing or {}).get("properties") or {}).get("subnets") or []
        }
        subnets = []
        for sn in d.get("subnets", []):
            # Keep what the spec does not manage on a subnet (NSG, route table, delegations).
            kept = dict((old_subnets.get(sn["name"].casefold()) or {}).get("properties") or {})
            kept.pop("addressPrefixes", None)
            subnets.append({"name": sn["name"], "properties": {**kept, "addressPrefix": sn["prefix"]}})
        props = dict((existing or {}).get("properties") or {})
        props.update({"addressSpace": {"addressPrefixes": list(d["addressSpace"])}, "subnets": subnets})
        body: dict[str, Any] = {
            "location": d["location"],
            "tags": self._tags(resource, existing, normalize.TAG_TENANT),
            "properties": props,
        }
        self._wait(
            f"create or update virtual network {name}",
            lambda hook: client.begin_create_or_update(rg, name, body, raw_response_hook=hook),
            report,
        )

    # --- ASR ---------------------------------------------------------------------------------------

    def _asr(self, resource: Resource) -> tuple[VaultRef, Any]:
        vault = self._vault(resource.site or self._tenant(resource.tenant).site)
        return vault, self._vault_client("asr", vault)

    def topology(self, vault: VaultRef, *, refresh: bool = False) -> _Topology:
        """The vault's fabric for the site's VMM server with its clouds and VM networks (cached per run)."""
        with self._lock:
            cached = self._topology.get(vault.site)
        if cached is not None and not refresh:
            return cached
        asr = self._vault_client("asr", vault)
        rg, name = vault.resource_group, vault.name
        with arm.boundary(f"list fabrics in vault {name}"):
            fabrics = [_plain(f) for f in asr.replication_fabrics.list(rg, name)]
        fabric = next(
            (
                f
                for f in fabrics
                if arm.same(str((f.get("properties") or {}).get("friendlyName")), vault.vmm_server)
                or arm.same(str(f.get("name")), vault.vmm_server)
            ),
            None,
        )
        if fabric is None:
            known = ", ".join(str((f.get("properties") or {}).get("friendlyName")) for f in fabrics) or "none"
            raise PermanentError(
                f"VMM server {vault.vmm_server} is not registered in vault {name} (registered: {known}): install "
                "the Azure Site Recovery provider on it and register it with the vault first",
                code="FabricNotFound",
            )
        fabric_name = str(fabric["name"])
        with arm.boundary(f"list clouds of {vault.vmm_server} in vault {name}"):
            containers = {
                str((c.get("properties") or {}).get("friendlyName", "")).casefold(): str(c["name"])
                for c in map(
                    _plain, asr.replication_protection_containers.list_by_replication_fabrics(rg, name, fabric_name)
                )
            }
        with arm.boundary(f"list VM networks of {vault.vmm_server} in vault {name}"):
            networks = {
                str((n.get("properties") or {}).get("friendlyName", "")).casefold(): str(n["name"])
                for n in map(_plain, asr.replication_networks.list_by_replication_fabrics(rg, name, fabric_name))
            }
        topo = _Topology(fabric_name, containers, networks)
        with self._lock:
            self._topology[vault.site] = topo
        return topo

    def _synced(self, vault: VaultRef, table: str, name: str, missing: str, code: str) -> tuple[str, str]:
        """The fabric and the ASR name of a cloud (``table`` "containers") or VM network ("networks") the VMM
        server synchronised to the vault; asked again once in case it arrived since the cached answer."""
        for refresh in (False, True):
            topo = self.topology(vault, refresh=refresh)
            names: dict[str, str] = getattr(topo, table)
            if name.casefold() in names:
                return topo.fabric, names[name.casefold()]
        raise PermanentError(missing, code=code)

    def _container(self, vault: VaultRef, cloud: str) -> tuple[str, str]:
        return self._synced(
            vault,
            "containers",
            cloud,
            f"cloud {cloud!r} is not a protection container in vault {vault.name}: the VMM server has not "
            "synchronised it yet (check the cloud's 'Send configuration data to Azure Site Recovery' setting)",
            "ContainerNotFound",
        )

    def _policy_id(self, vault: VaultRef, policy: str) -> str:
        return f"{vault.id}/replicationPolicies/{policy}"

    def _storage_id(self, tenant: TenantRef, name: str) -> str:
        if tenant.resource_group is None:
            raise PermanentError(f"tenant {tenant.name} has no recovery resource group", code="NoRecovery")
        return arm.storage_account_id(tenant.subscription, tenant.resource_group, name)

    def _policy_input(self, resource: Resource) -> dict[str, Any]:
        d = resource.desired
        tenant = self._tenant(resource.tenant)
        body: dict[str, Any] = {
            "instanceType": "HyperVReplicaAzure",
            "recoveryPointHistoryDuration": d["recoveryPointHours"],
            "applicationConsistentSnapshotFrequencyInHours": d["appConsistentSnapshotHours"],
            "replicationInterval": d["replicationIntervalSeconds"],
            "storageAccounts": [self._storage_id(tenant, d["storageAccount"])],
        }
        if d.get("startTime"):
            body["onlineReplicationStartTime"] = d["startTime"]
        return body

    def _put_policy(self, resource: Resource, step: _Step, report: Progress) -> None:
        vault, asr = self._asr(resource)
        name = resource.desired["name"]
        ops = asr.replication_policies
        if step.create:
            body: dict[str, Any] = {"properties": {"providerSpecificInput": self._policy_input(resource)}}
            self._wait(
                f"create replication policy {name}",
                lambda hook: ops.begin_create(vault.resource_group, vault.name, name, body, raw_response_hook=hook),
                report,
                vault,
            )
        elif not step.lifecycle_only:
            body = {"properties": {"replicationProviderSettings": self._policy_input(resource)}}
            self._wait(
                f"update replication policy {name}",
                lambda hook: ops.begin_update(vault.resource_group, vault.name, name, body, raw_response_hook=hook),
                report,
                vault,
            )
        self._own(resource, self._policy_id(vault, name))

    def _own(self, resource: Resource, object_id: str) -> None:
        self.ledger.record(
            object_id,
            ownership.Marker(str(resource.address), resource.policy.prune, resource.policy.protect),
        )

    def _find_mapping(self, vault: VaultRef, cloud: str) -> dict[str, Any] | None:
        """The cloud's container mapping to Azure, if any (one list call in the cloud's container)."""
        fabric, container = self._container(vault, cloud)
        asr = self._vault_client("asr", vault)
        with arm.boundary(f"list container mappings of cloud {cloud}"):
            for m in asr.replication_protection_container_mappings.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric, container
            ):
                obj = _plain(m)
                if normalize.policy_association(obj) is not None:
                    return obj
        return None

    def _put_association(self, resource: Resource, step: _Step, report: Progress) -> None:
        vault, asr = self._asr(resource)
        cloud, policy = resource.desired["cloud"], resource.desired["policy"]
        fabric, container = self._container(vault, cloud)
        ops = asr.replication_protection_container_mappings
        current = self._find_mapping(vault, cloud)
        if current is not None:
            n = normalize.policy_association(current)
            if n is not None and arm.same(str(n.data.get("policy")), policy):
                self._own(resource, str(current["id"]))  # only the marker was behind
                return
            # Another policy: ASR cannot re-point a mapping, so remove it and pair the cloud again.
            old = str(current["name"])
            self._wait(
                f"remove container mapping {old} of cloud {cloud}",
                lambda hook: ops.begin_delete(
                    vault.resource_group,
                    vault.name,
                    fabric,
                    container,
                    old,
                    {"properties": {"providerSpecificInput": {}}},
                    raw_response_hook=hook,
                ),
                report,
                vault,
            )
            self.ledger.forget(str(current["id"]))
        mapping = f"{container}-{policy}"[:80]
        body: dict[str, Any] = {
            "properties": {
                "targetProtectionContainerId": RECOVERY_FABRIC,
                "policyId": self._policy_id(vault, policy),
                "providerSpecificInput": {},
            }
        }
        self._wait(
            f"associate policy {policy} with cloud {cloud}",
            lambda hook: ops.begin_create(
                vault.resource_group, vault.name, fabric, container, mapping, body, raw_response_hook=hook
            ),
            report,
            vault,
        )
        self._own(
            resource,
            f"{vault.id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}"
            f"/replicationProtectionContainerMappings/{mapping}",
        )

    def _network_mapping_id(self, vault: VaultRef, fabric: str, network: str, mapping: str) -> str:
        return (
            f"{vault.id}/replicationFabrics/{fabric}/replicationNetworks/{network}/replicationNetworkMappings/{mapping}"
        )

    def _asr_network(self, vault: VaultRef, vm_network: str) -> tuple[str, str]:
        return self._synced(
            vault,
            "networks",
            vm_network,
            f"VM network {vm_network!r} is not known to vault {vault.name} yet: VMM sends it once the network "
            "exists in a cloud that ASR protects; run apply again in a few minutes",
            "NetworkNotFound",
        )

    def _put_network_mapping(self, resource: Resource, step: _Step, report: Progress) -> None:
        vault, asr = self._asr(resource)
        d = resource.desired
        fabric, network = self._asr_network(vault, d["vmNetwork"])
        ops = asr.replication_network_mappings
        with arm.boundary(f"list network mappings of VM network {d['vmNetwork']}"):
            current = next(
                (
                    _plain(m)
                    for m in ops.list_by_replication_networks(vault.resource_group, vault.name, fabric, network)
                    if normalize.network_mapping(_plain(m)) is not None
                ),
                None,
            )
        mapping = str(current["name"]) if current is not None else f"{network}-azure"[:80]
        body: dict[str, Any] = {
            "properties": {
                "recoveryFabricName": RECOVERY_FABRIC,
                "recoveryNetworkId": arm.virtual_network_id(
                    d["azureSubscriptionId"], d["azureResourceGroup"], d["azureNetwork"]
                ),
                "fabricSpecificDetails": {"instanceType": "VmmToAzure"},
            }
        }
        if current is None:
            self._wait(
                f"map VM network {d['vmNetwork']} to {d['azureNetwork']}",
                lambda hook: ops.begin_create(
                    vault.resource_group, vault.name, fabric, network, mapping, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        elif not step.lifecycle_only:
            self._wait(
                f"update network mapping of {d['vmNetwork']}",
                lambda hook: ops.begin_update(
                    vault.resource_group, vault.name, fabric, network, mapping, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        self._own(resource, self._network_mapping_id(vault, fabric, network, mapping))

    def _in_container(self, vault: VaultRef, fabric: str, container: str, vm: str, *, protected: bool) -> Any:
        """The VM's protected item (``protected``) or protectable item in the cloud's container, or None: one
        list call in the container."""
        asr = self._vault_client("asr", vault)
        ops = asr.replication_protected_items if protected else asr.replication_protectable_items
        what = "protected" if protected else "protectable"
        with arm.boundary(f"list {what} VMs of container {container}"):
            for item in ops.list_by_replication_protection_containers(
                vault.resource_group, vault.name, fabric, container
            ):
                obj = _plain(item)
                if arm.same(str((obj.get("properties") or {}).get("friendlyName")), vm):
                    return obj
        return None

    def _find_item(self, vault: VaultRef, fabric: str, container: str, vm: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._in_container(vault, fabric, container, vm, protected=True)
        return found

    def _protectable(self, vault: VaultRef, fabric: str, container: str, vm: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._in_container(vault, fabric, container, vm, protected=False)
        if found is None:
            raise PermanentError(
                f"VM {vm!r} is not a protectable item of its cloud in vault {vault.name}: is it in the cloud, and "
                "has VMM synchronised it?",
                code="ProtectableItemNotFound",
            )
        return found

    def _targets(self, resource: Resource) -> dict[str, str]:
        d = resource.desired
        tenant = self._tenant(resource.tenant)
        network_id = arm.virtual_network_id(tenant.subscription, d["targetResourceGroup"], d["targetNetwork"])
        return {
            "storage": self._storage_id(tenant, d["storageAccount"]),
            "network": network_id,
            "subnet": f"{network_id}/subnets/{d['targetSubnet']}",
            "resourceGroup": arm.resource_group_id(tenant.subscription, d["targetResourceGroup"]),
        }

    def _put_protected_item(self, resource: Resource, step: _Step, report: Progress) -> None:
        vault, asr = self._asr(resource)
        d = resource.desired
        vm = d["vm"]
        fabric, container = self._container(vault, d["cloud"])
        ops = asr.replication_protected_items
        targets = self._targets(resource)
        current = self._find_item(vault, fabric, container, vm)
        if current is None:
            item = self._protectable(vault, fabric, container, vm)
            details = (item.get("properties") or {}).get("customDetails") or {}
            disks = details.get("diskDetails") or []
            os_disk = next((x for x in disks if str(x.get("vhdType", "")).casefold() == "operatingsystem"), None)
            os_disk = os_disk or (disks[0] if disks else {})
            name = str(item["name"])
            body: dict[str, Any] = {
                "properties": {
                    "policyId": self._policy_id(vault, d["policy"]),
                    "protectableItemId": str(item["id"]),
                    "providerSpecificDetails": {
                        "instanceType": "HyperVReplicaAzure",
                        "vmName": vm,
                        "osType": d["osType"],
                        "vhdId": os_disk.get("vhdId"),
                        "targetAzureVmName": vm,
                        "targetAzureNetworkId": targets["network"],
                        "targetAzureSubnetId": targets["subnet"],
                        "targetAzureV2ResourceGroupId": targets["resourceGroup"],
                        # The policy names the storage account; enabling protection must name it again.
                        "targetStorageAccountId": targets["storage"],
                        "useManagedDisks": "false",
                        "targetVmSize": d["targetVmSize"],
                    },
                }
            }
            self._wait(
                f"enable protection of {vm}",
                lambda hook: ops.begin_create(
                    vault.resource_group, vault.name, fabric, container, name, body, raw_response_hook=hook
                ),
                report,
                vault,
            )
        else:
            name = str(current["name"])
            if not step.lifecycle_only:
                nics = ((current.get("properties") or {}).get("providerSpecificDetails") or {}).get("vmNics") or []
                body = {
                    "properties": {
                        "recoveryAzureVMName": vm,
                        "recoveryAzureVMSize": d["targetVmSize"],
                        "selectedRecoveryAzureNetworkId": targets["network"],
                        "vmNics": [
                            {
                                "nicId": nic.get("nicId"),
                                "selectionType": "SelectedByUser",
                                # The failover subnet lives on each IP configuration (API 2021 and later).
                                "ipConfigs": [
                                    {
                                        "ipConfigName": c.get("name"),
                                        "isPrimary": c.get("isPrimary"),
                                        "recoverySubnetName": d["targetSubnet"],
                                    }
                                    for c in nic.get("ipConfigs") or []
                                ],
                            }
                            for nic in nics
                        ],
                        "providerSpecificDetails": {
                            "instanceType": "HyperVReplicaAzure",
                            "recoveryAzureV2ResourceGroupId": targets["resourceGroup"],
                            "useManagedDisks": "false",
                        },
                    }
                }
                self._wait(
                    f"update protection of {vm}",
                    lambda hook: ops.begin_update(
                        vault.resource_group, vault.name, fabric, container, name, body, raw_response_hook=hook
                    ),
                    report,
                    vault,
                )
        self._own(
            resource,
            f"{vault.id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}"
            f"/replicationProtectedItems/{name}",
        )

    # --- deleting ----------------------------------------------------------------------------------

    def _delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool = True) -> None:
        """Delete (for a protected item: disable protection) what the tool owns. ``pruning`` False: the first
        half of a replace the planner allowed (a protected item moving to another policy or storage)."""
        kind = address.kind
        scope = address.scope
        if kind in _ASR_CHILDREN:
            self._delete_asr(address, resource, report, pruning=pruning)
            return
        if kind == "asr.vault":
            vault = self._vault(scope)
            client = self._vault_client("vaults", vault).vaults
            existing = self._get(f"get vault {vault.name}", lambda: client.get(vault.resource_group, vault.name))
            if existing is None:
                return
            self._refuse_foreign(address, existing)
            self._wait(
                f"delete vault {vault.name}",
                lambda hook: client.begin_delete(vault.resource_group, vault.name, raw_response_hook=hook),
                report,
            )
            return
        tenant = self._tenant(scope)
        if kind == "azure.resource_group":
            groups = self._tenant_client("resources", tenant).resource_groups
            existing = self._get(f"get resource group {address.name}", lambda: groups.get(address.name))
            if existing is None:
                return
            self._refuse_foreign(address, existing)
            self._wait(
                f"delete resource group {address.name}",
                lambda hook: groups.begin_delete(address.name, raw_response_hook=hook),
                report,
            )
            return
        rg = tenant.resource_group or ""
        if kind == "azure.storage_account":
            accounts = self._tenant_client("storage", tenant).storage_accounts
            existing = self._get(
                f"get storage account {address.name}", lambda: accounts.get_properties(rg, address.name)
            )
            if existing is None:
                return
            self._refuse_foreign(address, existing)
            with arm.boundary(f"delete storage account {address.name}"):
                accounts.delete(rg, address.name)
            return
        networks = self._tenant_client("network", tenant).virtual_networks
        existing = self._get(f"get virtual network {address.name}", lambda: networks.get(rg, address.name))
        if existing is None:
            return
        self._refuse_foreign(address, existing)
        self._wait(
            f"delete virtual network {address.name}",
            lambda hook: networks.begin_delete(rg, address.name, raw_response_hook=hook),
            report,
        )

    def _delete_asr(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        tenant = self._tenant(address.scope)
        vault = self._vault(tenant.site)
        asr = self._vault_client("asr", vault)
        rg, vname = vault.resource_group, vault.name
        seen = self.read_one(resource)
        if seen is None:
            return
        if pruning and not seen.owned:
            raise PermanentError(f"{address} was not created by reconciler: not deleting it", code="NotOwned")
        kind = address.kind
        if kind == "asr.replication_policy":
            object_id = self._policy_id(vault, address.name)
            self._wait(
                f"delete replication policy {address.name}",
                lambda hook: asr.replication_policies.begin_delete(rg, vname, address.name, raw_response_hook=hook),
                report,
                vault,
            )
        elif kind == "asr.policy_association":
            fabric, container = self._container(vault, address.name)
            mapping = self._find_mapping(vault, address.name)
            if mapping is None:
                return
            object_id = str(mapping["id"])
            self._wait(
                f"remove the policy from cloud {address.name}",
                lambda hook: asr.replication_protection_container_mappings.begin_delete(
                    rg,
                    vname,
                    fabric,
                    container,
                    str(mapping["name"]),
                    {"properties": {"providerSpecificInput": {}}},
                    raw_response_hook=hook,
                ),
                report,
                vault,
            )
        elif kind == "asr.network_mapping":
            fabric, network = self._asr_network(vault, address.name)
            name = str(seen.status.get("mapping"))
            object_id = self._network_mapping_id(vault, fabric, network, name)
            self._wait(
                f"remove the network mapping of {address.name}",
                lambda hook: asr.replication_network_mappings.begin_delete(
                    rg, vname, fabric, network, name, raw_response_hook=hook
                ),
                report,
                vault,
            )
        else:
            fabric, container = self._container(vault, str(seen.data.get("cloud")))
            item = str(seen.status.get("item"))
            object_id = (
                f"{vault.id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}"
                f"/replicationProtectedItems/{item}"
            )
            self._wait(
                f"disable protection of {address.name}",
                lambda hook: asr.replication_protected_items.begin_delete(
                    rg,
                    vname,
                    fabric,
                    container,
                    item,
                    {"properties": {"disableProtectionReason": "NotSpecified"}},
                    raw_response_hook=hook,
                ),
                report,
                vault,
            )
        self.ledger.forget(object_id)

    # --- long-running operations -------------------------------------------------------------------

    def _wait(
        self,
        what: str,
        start: Callable[[Callable[[Any], None]], Any],
        report: Progress,
        vault: VaultRef | None = None,
    ) -> Any:
        """Start a long-running operation and wait for it, with progress and the job timeout. ASR answers
        with its job in the operation's status URL: the job's state and current task are shown while it
        runs, and a failed job's errors (with ASR's recommended action) are what the failure says."""
        urls: list[str] = []

        def hook(response: Any) -> None:
            headers = response.http_response.headers
            for header in ("Azure-AsyncOperation", "Location"):
                if headers.get(header):
                    urls.append(str(headers[header]))

        with arm.boundary(what):
            poller = start(hook)
        job = next((m.group(1) for u in urls for m in [_JOB.search(u)] if m), None)
        deadline = time.monotonic() + self.settings.job_timeout_s
        last = ""
        try:
            while True:
                with arm.boundary(what):
                    poller.wait(timeout=min(5.0, max(0.0, deadline - time.monotonic())))
                    done = poller.done()
                if done:
                    break
                state = self._job_state(vault, job) if vault is not None and job else str(poller.status())
                if state != last:
                    report(f"{what}: {state}")
                    last = state
                if time.monotonic() > deadline:
                    raise PermanentError(
                        f"{what} did not finish within {self.settings.job_timeout_s:g}s"
                        + (f" (ASR job {job})" if job else "")
                        + "; it may still finish: run apply again to check",
                        code="JobTimeout",
                    )
            with arm.boundary(what):
                result = poller.result()
        except PermanentError as exc:
            if vault is not None and job:
                detail = self._job_errors(vault, job)
                if detail:  # the job's own errors say more (and what to do): they replace the summary
                    raise PermanentError(f"{what}: ASR job {job} failed: {detail}", code=exc.code) from exc
            raise
        return result

    def _job(self, vault: VaultRef, job: str) -> dict[str, Any] | None:
        asr = self._vault_client("asr", vault)
        try:
            with arm.boundary(f"get ASR job {job}"):
                return _plain(asr.replication_jobs.get(vault.resource_group, vault.name, job))
        except PermanentError:
            return None

    def _job_state(self, vault: VaultRef, job: str) -> str:
        obj = self._job(vault, job)
        props = (obj or {}).get("properties") or {}
        state = str(props.get("state") or "InProgress")
        running = next(
            (t for t in props.get("tasks") or [] if str(t.get("state", "")).casefold() == "inprogress"), None
        )
        task = f" ({running.get('friendlyName') or running.get('name')})" if running else ""
        return f"ASR job {props.get('friendlyName') or job}: {state}{task}"

    def _job_errors(self, vault: VaultRef, job: str) -> str:
        props = (self._job(vault, job) or {}).get("properties") or {}
        parts = []
        for error in props.get("errors") or []:
            service = error.get("serviceErrorDetails") or error.get("providerErrorDetails") or {}
            code = service.get("code") or service.get("errorCode") or ""
            message = service.get("message") or service.get("errorMessage") or ""
            action = service.get("recommendedAction")
            parts.append(f"{code}: {message}" + (f" (recommended: {action})" if action else ""))
        return "; ".join(parts)
