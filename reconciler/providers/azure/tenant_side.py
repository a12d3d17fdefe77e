"""A tenant's own Azure resources, in the tenant's subscription and signed in to the tenant's Azure AD tenant:
its resource groups (``azure.resource_group``, ``ResourceManagementClient``), and in its recovery resource
group the storage account its replicas land in (``azure.storage_account``, ``StorageManagementClient``) and
the virtual network its VMs fail over to (``azure.virtual_network``, ``NetworkManagementClient``). The site's
vault resource group is an ``azure.resource_group`` too, in the site's scope and the provider's subscription.

Reads: one Resource Graph query per kind and directory (``graph.py``: every tenant of a directory at once, a round
trip per page), else one list call per subscription (resource groups) or per recovery resource group (storage
accounts, virtual networks). All three carry the tool's tags; one without them is never changed. Anything in a tenant's
recovery resource group is reported, tagged or not (the group is the tenant's, declared in the specs); in a
subscription only the groups the tool's tags (or ledger) claim are.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import TenantRef
from reconciler.providers.azure.graph import GraphRefused
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.session import Family, Found, get, list_all
from reconciler.providers.azure.tagged import TaggedHandler
from reconciler.providers.base import Progress, Step

Key = tuple[str, ...]  # what one list call covers: (subscription,) or (subscription, resource group), casefolded


class _GraphListed(TaggedHandler):
    """A tenant-side kind Resource Graph lists per directory: the tenants of a directory are one read scope, read
    with one paged query and split as the per-subscription list calls would have answered (``key``)."""

    normalize_row: Callable[[Mapping[str, Any]], Normalized] = staticmethod(normalize.resource_group)

    def tenant_ref(self, resource: Resource) -> TenantRef | None:
        """The tenant whose object this is (None: not a tenant's, such as a site's vault resource group)."""
        scope = resource.tenant or resource.address.scope
        return self.session.context.tenants.get(scope) if scope is not None else None

    @abc.abstractmethod
    def list_scope_name(self, resource: Resource) -> str:
        """The read scope of the per-subscription (or per-group) list call covering ``resource``."""

    @abc.abstractmethod
    def key(self, tenant: TenantRef) -> Key | None:
        """Which list call's answer a tenant's objects are in (None: the tenant has none of this kind)."""

    def row_key(self, row: Mapping[str, Any]) -> Key:
        return (str(row.get("subscriptionId", "")).casefold(),)

    def row_scope(self, tenant: TenantRef, n: Normalized) -> str | None:
        """The scope an object in ``tenant``'s answer belongs to (default: what its tags say)."""
        return n.scope

    def read_scope(self, resource: Resource) -> str:
        tenant = self.tenant_ref(resource)
        where = self.graph.scope_of(tenant) if tenant is not None else None
        return where or self.list_scope_name(resource)

    def read(self, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        tenants = [self.tenant_ref(r) for r in resources]
        if any(t is None or self.graph.scope_of(t) is None for t in tenants):
            return self._listed(resources)  # not a tenant's, Resource Graph off, or refused in its directory
        by_key: dict[Key, list[Resource]] = {}
        tenant_of_key: dict[Key, TenantRef] = {}
        for r, t in zip(resources, tenants, strict=True):
            assert t is not None
            k = self.key(t)
            if k is not None:
                by_key.setdefault(k, []).append(r)
                tenant_of_key[k] = t
        out: dict[Address, Observed | None] = {r.address: None for r in resources}
        if not by_key:
            return out
        groups = {k[1] for k in by_key if len(k) > 1}
        try:
            rows = self.graph.rows(resources[0].kind, tenant_of_key.values(), groups)
        except GraphRefused:
            return self._listed(resources)
        found: dict[Key, list[Found]] = {k: [] for k in by_key}
        for row in rows:
            k = self.row_key(row)
            if k in found:
                n = self.normalize_row(row)
                n.scope = self.row_scope(tenant_of_key[k], n)
                found[k].append((row, n))
        for k, members in by_key.items():
            out.update(self.match(members, found[k]))
        return out

    def _listed(self, resources: Sequence[Resource]) -> dict[Address, Observed | None]:
        """Without Resource Graph: one list call per subscription (or group) the resources are in."""
        by_scope: dict[str, list[Resource]] = {}
        for r in resources:
            by_scope.setdefault(self.list_scope_name(r), []).append(r)
        out: dict[Address, Observed | None] = {}
        for members in by_scope.values():
            out.update(super().read(members))
        return out


class _TenantHandler(_GraphListed):
    def tenant_of(self, resource: Resource) -> TenantRef:
        return self.session.tenant(resource.tenant or resource.address.scope)


class ResourceGroupHandler(_GraphListed):
    """A tenant's resource groups (in its subscription), and the site's vault resource group (in the provider's
    subscription, tagged with the site)."""

    kinds = frozenset({"azure.resource_group"})

    def _where(self, resource: Resource) -> tuple[str, Any]:
        """The subscription holding the group, and its resource groups client."""
        scope = resource.tenant or resource.address.scope
        if scope in self.session.context.tenants:
            tenant = self.session.tenant(scope)
            return tenant.subscription, self.session.tenant_client(Family.RESOURCES, tenant).resource_groups
        vault = self.session.vault(resource.site or scope)
        return vault.subscription, self.session.vault_client(Family.RESOURCES, vault).resource_groups

    def scope_tag_of(self, resource: Resource) -> str:
        scope = resource.tenant or resource.address.scope
        return normalize.TAG_TENANT if scope in self.session.context.tenants else normalize.TAG_SITE

    def list_scope_name(self, resource: Resource) -> str:
        return f"subscription/{self._where(resource)[0]}"

    def key(self, tenant: TenantRef) -> Key | None:
        return (tenant.subscription.casefold(),)

    def arm_id(self, resource: Resource) -> str:
        return arm.resource_group_id(self._where(resource)[0], resource.address.name)

    def list_scope(self, first: Resource) -> list[Found]:
        subscription, groups = self._where(first)
        return list_all(f"list resource groups in subscription {subscription}", groups.list, normalize.resource_group)

    def fetch(self, resource: Resource) -> Found | None:
        groups, name = self._where(resource)[1], resource.address.name
        obj = get(f"get resource group {name}", lambda: groups.get(name))
        return obj, normalize.resource_group(obj)

    def wire(self, resource: Resource) -> dict[str, Any]:
        groups, name = self._where(resource)[1], resource.address.name
        return get(f"get resource group {name}", lambda: groups.get(name))

    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        groups, name = self._where(resource)[1], resource.address.name
        with arm.boundary(f"tag resource group {name}"):
            groups.update(name, {"tags": tags})

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        groups = self._where(resource)[1]
        d = typed.of(resource, typed.ResourceGroup)
        existing = self.existing(resource)
        self.refuse_foreign(resource.address, existing)
        body: dict[str, Any] = {"location": d["location"], "tags": self.tags(resource, existing)}
        with arm.boundary(f"create or update resource group {d['name']}"):
            groups.create_or_update(d["name"], body)

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        groups = self._where(resource)[1]
        self.delete_owned(
            address,
            resource,
            remove=lambda: self.jobs.wait(
                f"delete resource group {address.name}",
                lambda hook: groups.begin_delete(address.name, raw_response_hook=hook),
                report,
            ),
        )


class _InRecoveryGroup(_TenantHandler):
    """Kinds that live in the tenant's recovery resource group (none: the tenant has no recovery section)."""

    def list_scope_name(self, resource: Resource) -> str:
        tenant = self.tenant_of(resource)
        return f"resource-group/{tenant.subscription}/{tenant.resource_group or '-'}"

    def key(self, tenant: TenantRef) -> Key | None:
        if tenant.resource_group is None:
            return None
        return (tenant.subscription.casefold(), tenant.resource_group.casefold())

    def row_key(self, row: Mapping[str, Any]) -> Key:
        return (str(row.get("subscriptionId", "")).casefold(), str(row.get("resourceGroup", "")).casefold())

    def row_scope(self, tenant: TenantRef, n: Normalized) -> str | None:
        return tenant.name  # listed in the tenant's own group: the tenant's, whatever its tags say

    reports_foreign = True  # the tenant's recovery resource group: whatever is in it is the tool's business

    def list_scope(self, first: Resource) -> list[Found]:
        tenant = self.tenant_of(first)
        if tenant.resource_group is None:
            return []
        found = self.list_group(tenant, tenant.resource_group)
        for _obj, n in found:
            n.scope = tenant.name  # listed in the tenant's own group: the tenant's, whatever its tags say
        return found

    @abc.abstractmethod
    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        """The kind's list call in resource group ``rg``."""

    def group_of(self, resource: Resource, tenant: TenantRef) -> str:
        return str(resource.desired.get("resourceGroup") or tenant.resource_group or "")


class StorageAccountHandler(_InRecoveryGroup):
    kinds = frozenset({"azure.storage_account"})
    normalize_row = staticmethod(normalize.storage_account)

    def _accounts(self, tenant: TenantRef) -> Any:
        return self.session.tenant_client(Family.STORAGE, tenant).storage_accounts

    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        accounts = self._accounts(tenant)
        return list_all(
            f"list storage accounts in {rg}",
            lambda: accounts.list_by_resource_group(rg),
            normalize.storage_account,
        )

    def arm_id(self, resource: Resource) -> str:
        tenant = self.tenant_of(resource)
        return arm.storage_account_id(tenant.subscription, self.group_of(resource, tenant), resource.address.name)

    def fetch(self, resource: Resource) -> Found | None:
        tenant, name = self.tenant_of(resource), resource.address.name
        accounts, rg = self._accounts(tenant), self.group_of(resource, tenant)
        obj = get(f"get storage account {name}", lambda: accounts.get_properties(rg, name))
        return obj, normalize.storage_account(obj)

    def wire(self, resource: Resource) -> dict[str, Any]:
        tenant, name = self.tenant_of(resource), resource.address.name
        accounts, rg = self._accounts(tenant), self.group_of(resource, tenant)
        return get(f"get storage account {name}", lambda: accounts.get_properties(rg, name))

    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        tenant, name = self.tenant_of(resource), resource.address.name
        accounts, rg = self._accounts(tenant), self.group_of(resource, tenant)
        with arm.boundary(f"tag storage account {name}"):
            accounts.update(rg, name, {"tags": tags})

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        accounts = self._accounts(self.tenant_of(resource))
        d = typed.of(resource, typed.StorageAccount)
        rg, name = d["resourceGroup"], d["name"]
        existing = self.existing(resource)
        tags = self.tags(resource, existing)
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
            self.jobs.wait(
                f"create storage account {name}",
                lambda hook: accounts.begin_create(rg, name, body, raw_response_hook=hook),
                report,
            )
            return
        self.refuse_foreign(resource.address, existing)
        with arm.boundary(f"update storage account {name}"):
            accounts.update(rg, name, {"sku": {"name": d["sku"]}, "tags": tags})

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        tenant = self.tenant_of(resource)
        accounts, rg = self._accounts(tenant), self.group_of(resource, tenant)

        def remove() -> None:
            with arm.boundary(f"delete storage account {address.name}"):
                accounts.delete(rg, address.name)

        self.delete_owned(address, resource, remove=remove)


class VirtualNetworkHandler(_InRecoveryGroup):
    kinds = frozenset({"azure.virtual_network"})
    normalize_row = staticmethod(normalize.virtual_network)

    def _networks(self, tenant: TenantRef) -> Any:
        return self.session.tenant_client(Family.NETWORK, tenant).virtual_networks

    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        networks = self._networks(tenant)
        return list_all(f"list virtual networks in {rg}", lambda: networks.list(rg), normalize.virtual_network)

    def arm_id(self, resource: Resource) -> str:
        tenant = self.tenant_of(resource)
        return arm.virtual_network_id(tenant.subscription, self.group_of(resource, tenant), resource.address.name)

    def fetch(self, resource: Resource) -> Found | None:
        tenant, name = self.tenant_of(resource), resource.address.name
        networks, rg = self._networks(tenant), self.group_of(resource, tenant)
        obj = get(f"get virtual network {name}", lambda: networks.get(rg, name))
        return obj, normalize.virtual_network(obj)

    def wire(self, resource: Resource) -> dict[str, Any]:
        tenant, name = self.tenant_of(resource), resource.address.name
        networks, rg = self._networks(tenant), self.group_of(resource, tenant)
        return get(f"get virtual network {name}", lambda: networks.get(rg, name))

    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        tenant, name = self.tenant_of(resource), resource.address.name
        networks, rg = self._networks(tenant), self.group_of(resource, tenant)
        with arm.boundary(f"tag virtual network {name}"):
            networks.update_tags(rg, name, {"tags": tags})

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        networks = self._networks(self.tenant_of(resource))
        d = typed.of(resource, typed.VirtualNetwork)
        rg, name = d["resourceGroup"], d["name"]
        existing = self.existing(resource)
        self.refuse_foreign(resource.address, existing)
        props = dict((existing or {}).get("properties") or {})
        props.update({"addressSpace": {"addressPrefixes": list(d["addressSpace"])}, "subnets": _subnets(d, existing)})
        body: dict[str, Any] = {"location": d["location"], "tags": self.tags(resource, existing), "properties": props}
        self.jobs.wait(
            f"create or update virtual network {name}",
            lambda hook: networks.begin_create_or_update(rg, name, body, raw_response_hook=hook),
            report,
        )

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        tenant = self.tenant_of(resource)
        networks, rg = self._networks(tenant), self.group_of(resource, tenant)
        self.delete_owned(
            address,
            resource,
            remove=lambda: self.jobs.wait(
                f"delete virtual network {address.name}",
                lambda hook: networks.begin_delete(rg, address.name, raw_response_hook=hook),
                report,
            ),
        )


def _subnets(desired: typed.VirtualNetwork, existing: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The spec's subnets, keeping what the spec does not manage on each (NSG, route table, delegations)."""
    old = {
        str(s.get("name", "")).casefold(): s for s in ((existing or {}).get("properties") or {}).get("subnets") or []
    }
    subnets = []
    for sn in desired["subnets"]:
        kept = dict((old.get(sn["name"].casefold()) or {}).get("properties") or {})
        kept.pop("addressPrefixes", None)
        subnets.append({"name": sn["name"], "properties": {**kept, "addressPrefix": sn["prefix"]}})
    return subnets
