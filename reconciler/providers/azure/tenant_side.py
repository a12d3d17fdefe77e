"""A tenant's own Azure resources, in the tenant's subscription and signed in to the tenant's Azure AD tenant:
its resource groups (``azure.resource_group``, ``ResourceManagementClient``), and in its recovery resource
group the storage account its replicas land in (``azure.storage_account``, ``StorageManagementClient``) and
the virtual network its VMs fail over to (``azure.virtual_network``, ``NetworkManagementClient``).

Reads: one list call per subscription (resource groups) or per recovery resource group (storage accounts,
virtual networks). All three carry the tool's tags; one without them is never changed.
"""

from __future__ import annotations

import abc
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import TenantRef
from reconciler.providers.azure.handler import TaggedHandler, observed
from reconciler.providers.azure.session import Family, Found, find, get, list_all
from reconciler.providers.base import Progress, Step


class _TenantHandler(TaggedHandler):
    def tenant_of(self, resource: Resource) -> TenantRef:
        return self.session.tenant(resource.tenant or resource.address.scope)


class ResourceGroupHandler(_TenantHandler):
    kinds = frozenset({"azure.resource_group"})

    def _groups(self, tenant: TenantRef) -> Any:
        return self.session.tenant_client(Family.RESOURCES, tenant).resource_groups

    def read_scope(self, resource: Resource) -> str:
        return f"subscription/{self.tenant_of(resource).subscription}"

    def list_scope(self, first: Resource) -> list[Found]:
        tenant = self.tenant_of(first)
        return list_all(
            f"list resource groups in subscription {tenant.subscription}",
            self._groups(tenant).list,
            normalize.resource_group,
        )

    def get_one(self, resource: Resource) -> Observed | None:
        groups, name = self._groups(self.tenant_of(resource)), resource.address.name
        obj = get(f"get resource group {name}", lambda: groups.get(name))
        return observed(resource.address, obj, normalize.resource_group(obj))

    def wire(self, resource: Resource) -> dict[str, Any]:
        groups, name = self._groups(self.tenant_of(resource)), resource.address.name
        return get(f"get resource group {name}", lambda: groups.get(name))

    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        groups, name = self._groups(self.tenant_of(resource)), resource.address.name
        with arm.boundary(f"tag resource group {name}"):
            groups.update(name, {"tags": tags})

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        groups = self._groups(self.session.tenant(resource.tenant))
        d = resource.desired
        existing = find(f"get resource group {d['name']}", lambda: groups.get(d["name"]))
        if not step.create:
            self.refuse_foreign(resource.address, existing)
        body: dict[str, Any] = {"location": d["location"], "tags": self.tags(resource, existing)}
        with arm.boundary(f"create or update resource group {d['name']}"):
            groups.create_or_update(d["name"], body)

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        groups = self._groups(self.session.tenant(address.scope))
        self.delete_owned(
            address,
            what=f"resource group {address.name}",
            get=lambda: groups.get(address.name),
            remove=lambda: self.jobs.wait(
                f"delete resource group {address.name}",
                lambda hook: groups.begin_delete(address.name, raw_response_hook=hook),
                report,
            ),
        )


class _InRecoveryGroup(_TenantHandler):
    """Kinds that live in the tenant's recovery resource group (none: the tenant has no recovery section)."""

    def read_scope(self, resource: Resource) -> str:
        tenant = self.tenant_of(resource)
        return f"resource-group/{tenant.subscription}/{tenant.resource_group or '-'}"

    def list_scope(self, first: Resource) -> list[Found]:
        tenant = self.tenant_of(first)
        if tenant.resource_group is None:
            return []
        return self.list_group(tenant, tenant.resource_group)

    @abc.abstractmethod
    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        """The kind's list call in resource group ``rg``."""

    def group_of(self, resource: Resource, tenant: TenantRef) -> str:
        return str(resource.desired.get("resourceGroup") or tenant.resource_group or "")


class StorageAccountHandler(_InRecoveryGroup):
    kinds = frozenset({"azure.storage_account"})

    def _accounts(self, tenant: TenantRef) -> Any:
        return self.session.tenant_client(Family.STORAGE, tenant).storage_accounts

    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        accounts = self._accounts(tenant)
        return list_all(
            f"list storage accounts in {rg}",
            lambda: accounts.list_by_resource_group(rg),
            normalize.storage_account,
        )

    def get_one(self, resource: Resource) -> Observed | None:
        tenant, name = self.tenant_of(resource), resource.address.name
        accounts, rg = self._accounts(tenant), self.group_of(resource, tenant)
        obj = get(f"get storage account {name}", lambda: accounts.get_properties(rg, name))
        return observed(resource.address, obj, normalize.storage_account(obj))

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
        accounts = self._accounts(self.session.tenant(resource.tenant))
        d = resource.desired
        rg, name = d["resourceGroup"], d["name"]
        existing = find(f"get storage account {name}", lambda: accounts.get_properties(rg, name))
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
        tenant = self.session.tenant(address.scope)
        accounts, rg = self._accounts(tenant), tenant.resource_group or ""

        def remove() -> None:
            with arm.boundary(f"delete storage account {address.name}"):
                accounts.delete(rg, address.name)

        self.delete_owned(
            address,
            what=f"storage account {address.name}",
            get=lambda: accounts.get_properties(rg, address.name),
            remove=remove,
        )


class VirtualNetworkHandler(_InRecoveryGroup):
    kinds = frozenset({"azure.virtual_network"})

    def _networks(self, tenant: TenantRef) -> Any:
        return self.session.tenant_client(Family.NETWORK, tenant).virtual_networks

    def list_group(self, tenant: TenantRef, rg: str) -> list[Found]:
        networks = self._networks(tenant)
        return list_all(f"list virtual networks in {rg}", lambda: networks.list(rg), normalize.virtual_network)

    def get_one(self, resource: Resource) -> Observed | None:
        tenant, name = self.tenant_of(resource), resource.address.name
        networks, rg = self._networks(tenant), self.group_of(resource, tenant)
        obj = get(f"get virtual network {name}", lambda: networks.get(rg, name))
        return observed(resource.address, obj, normalize.virtual_network(obj))

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
        networks = self._networks(self.session.tenant(resource.tenant))
        d = resource.desired
        rg, name = d["resourceGroup"], d["name"]
        existing = find(f"get virtual network {name}", lambda: networks.get(rg, name))
        if existing is not None:
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
        tenant = self.session.tenant(address.scope)
        networks, rg = self._networks(tenant), tenant.resource_group or ""
        self.delete_owned(
            address,
            what=f"virtual network {address.name}",
            get=lambda: networks.get(rg, address.name),
            remove=lambda: self.jobs.wait(
                f"delete virtual network {address.name}",
                lambda hook: networks.begin_delete(rg, address.name, raw_response_hook=hook),
                report,
            ),
        )


def _subnets(desired: dict[str, Any], existing: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The spec's subnets, keeping what the spec does not manage on each (NSG, route table, delegations)."""
    old = {
        str(s.get("name", "")).casefold(): s for s in ((existing or {}).get("properties") or {}).get("subnets") or []
    }
    subnets = []
    for sn in desired.get("subnets", []):
        kept = dict((old.get(sn["name"].casefold()) or {}).get("properties") or {})
        kept.pop("addressPrefixes", None)
        subnets.append({"name": sn["name"], "properties": {**kept, "addressPrefix": sn["prefix"]}})
    return subnets
