"""The site's Recovery Services vault (``asr.vault``), through ``RecoveryServicesClient``.

Read: the vaults of the vault's resource group (one list call), keeping the one the site names. Write: a PUT
creates it; afterwards only a PATCH of what the spec manages (SKU, tags), since a PUT of an existing vault
would reset its other settings (redundancy, encryption). A vault without the tool's tags is never changed.
Its resource group is a resource of its own (``azure.resource_group`` in the site's scope, ``tenant_side.py``),
which the vault depends on.
"""

from __future__ import annotations

from typing import Any

from reconciler.core import desired as typed
from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.providers.azure import arm, normalize
from reconciler.providers.azure.context import VaultRef
from reconciler.providers.azure.handler import vault_scope
from reconciler.providers.azure.session import Family, Found, get, list_all
from reconciler.providers.azure.tagged import TaggedHandler
from reconciler.providers.base import Progress, Step


class VaultHandler(TaggedHandler):
    kinds = frozenset({"asr.vault"})
    scope_tag = normalize.TAG_SITE

    def _vaults(self, resource: Resource) -> tuple[VaultRef, Any]:
        vault = self.session.vault(resource.site or resource.address.scope)
        return vault, self.session.vault_client(Family.VAULTS, vault).vaults

    def read_scope(self, resource: Resource) -> str:
        return vault_scope(resource)

    def arm_id(self, resource: Resource) -> str:
        return self._vaults(resource)[0].id

    def list_scope(self, first: Resource) -> list[Found]:
        vault, vaults = self._vaults(first)
        found = list_all(
            f"list vaults in {vault.resource_group}",
            lambda: vaults.list_by_resource_group(vault.resource_group),
            normalize.vault,
        )
        return [(o, n) for o, n in found if arm.same(n.name, vault.name)]

    def fetch(self, resource: Resource) -> Found | None:
        vault, vaults = self._vaults(resource)
        obj = get(f"get vault {vault.name}", lambda: vaults.get(vault.resource_group, vault.name))
        return obj, normalize.vault(obj)

    def wire(self, resource: Resource) -> dict[str, Any]:
        vault, vaults = self._vaults(resource)
        return get(f"get vault {vault.name}", lambda: vaults.get(vault.resource_group, vault.name))

    def write_tags(self, resource: Resource, tags: dict[str, str], report: Progress) -> None:
        vault, vaults = self._vaults(resource)
        self.jobs.wait(
            f"tag vault {vault.name}",
            lambda hook: vaults.begin_update(vault.resource_group, vault.name, {"tags": tags}, raw_response_hook=hook),
            report,
        )

    def put(self, resource: Resource, step: Step, report: Progress) -> None:
        vault, vaults = self._vaults(resource)
        d = typed.of(resource, typed.Vault)
        existing = self.existing(resource)
        tags = self.tags(resource, existing)
        sku = {"name": d.get("sku", "Standard")}
        if existing is None:
            body: dict[str, Any] = {
                "location": d["location"],
                "sku": sku,
                "tags": tags,
                "properties": {"publicNetworkAccess": "Enabled"},
            }
            self.jobs.wait(
                f"create vault {vault.name}",
                lambda hook: vaults.begin_create_or_update(
                    vault.resource_group, vault.name, body, raw_response_hook=hook
                ),
                report,
            )
            return
        self.refuse_foreign(resource.address, existing)
        self.jobs.wait(
            f"update vault {vault.name}",
            lambda hook: vaults.begin_update(
                vault.resource_group, vault.name, {"sku": sku, "tags": tags}, raw_response_hook=hook
            ),
            report,
        )

    def delete(self, address: Address, resource: Resource, report: Progress, *, pruning: bool) -> None:
        vault, vaults = self._vaults(resource)
        self.delete_owned(
            address,
            resource,
            remove=lambda: self.jobs.wait(
                f"delete vault {vault.name}",
                lambda hook: vaults.begin_delete(vault.resource_group, vault.name, raw_response_hook=hook),
                report,
            ),
        )
