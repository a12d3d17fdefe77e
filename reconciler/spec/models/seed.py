"""``kind: ImportSeed``: where ``reconciler import`` starts. Not a spec the tool converges (``validate`` and
``plan`` never read it): the few facts the live systems cannot tell the import by themselves.

- per site: its VMM server and the Recovery Services vault the server is registered to (a VMM server does not say
  which vault holds it, and a subscription holds many vaults);
- per tenant: its site, its Windows Azure Pack plan and the Azure subscription and directory the plan maps to
  (Azure Pack's own records, not VMM's or Azure's), optionally its VMM cloud and recovery resource group when the
  systems cannot tell them (several clouds, several resource groups), and the plan's limits.

Everything else (the fabric, clouds, VM networks, VM memory, host power settings, the recovery resources and
ASR's objects) is read from the estate. A seed for thousands of tenants is generated from Azure Pack's admin API
(docs/import.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.spec.models.common import (
    ApiVersion,
    AzureRegion,
    DisplayName,
    DocName,
    Guid,
    HostName,
    Metadata,
    ResourceGroupName,
    SpecModel,
    VmSize,
)
from reconciler.spec.models.site import VmmEndpoint
from reconciler.spec.models.tenant import AzureSubscription


class SeedVault(SpecModel):
    subscription_id: Guid
    resource_group: ResourceGroupName
    name: str = Field(description="the vault's name")
    location: AzureRegion | None = Field(None, description="read from the vault when left out")


class SeedSite(SpecModel):
    name: DocName = Field(description="the Site document's metadata.name")
    vmm: VmmEndpoint
    recovery_vault: SeedVault
    host_groups: tuple[str, ...] = Field((), description="the site's host groups (default: those of its hosts)")
    vcenter: HostName | None = Field(None, description="the vCenter of the site's vSphere hosts, if any")


class SeedPlan(SpecModel):
    name: DisplayName
    azure: AzureSubscription
    allowed_regions: tuple[AzureRegion, ...] = Field(
        (), description="default: the region of the tenant's recovery resources"
    )
    allowed_vm_sizes: tuple[VmSize, ...] = Field((), description="default: the sizes its protected VMs fail over to")
    allowed_os_images: tuple[str, ...] = ()


class SeedTenant(SpecModel):
    name: DocName = Field(description="the Tenant document's metadata.name (also its scope in addresses)")
    site: str
    display_name: DisplayName | None = None
    plan: SeedPlan
    cloud: DisplayName | None = Field(None, description="the tenant's VMM cloud, when the systems cannot tell it")
    recovery_resource_group: ResourceGroupName | None = Field(
        None, description="the tenant's recovery resource group, when its ASR objects do not name it"
    )


class SeedSpec(SpecModel):
    sites: tuple[SeedSite, ...] = Field(min_length=1)
    tenants: tuple[SeedTenant, ...] = ()


class ImportSeedDocument(SpecModel):
    api_version: ApiVersion
    kind: Literal["ImportSeed"]
    metadata: Metadata
    spec: SeedSpec
