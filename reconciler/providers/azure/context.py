"""What the Azure provider needs to know beyond one resource's desired fields, taken from the specs: each
site's vault (provider subscription, resource group, name, the VMM server registered to it) and each
tenant's subscription, Azure AD tenant and recovery resource group. Nothing here is secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.spec.loader import SpecSet


@dataclass(frozen=True)
class VaultRef:
    site: str
    subscription: str
    resource_group: str
    name: str
    location: str
    vmm_server: str

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.name}"
        )


@dataclass(frozen=True)
class TenantRef:
    name: str
    site: str
    subscription: str
    ad_tenant: str
    resource_group: str | None  # its recovery resource group (None: the tenant has no recovery section)
    cloud: str
    vm_networks: tuple[str, ...] = ()


@dataclass
class AzureContext:
    vaults: dict[str, VaultRef] = field(default_factory=dict)  # by site
    tenants: dict[str, TenantRef] = field(default_factory=dict)  # by tenant name

    @classmethod
    def from_specs(cls, specs: SpecSet) -> AzureContext:
        ctx = cls()
        for name, doc in specs.sites.items():
            v = doc.model.spec.recovery_vault
            ctx.vaults[name] = VaultRef(
                name, v.subscription_id, v.resource_group, v.name, v.location, doc.model.spec.vmm.server
            )
        for name, tdoc in specs.tenants.items():
            t = tdoc.model.spec
            ctx.tenants[name] = TenantRef(
                name=name,
                site=t.site,
                subscription=t.plan.azure.subscription_id,
                ad_tenant=t.plan.azure.tenant_id,
                resource_group=t.recovery.resource_group if t.recovery is not None else None,
                cloud=t.cloud.name,
                vm_networks=tuple(n.name for n in t.vm_networks),
            )
        return ctx

    def tenant_of_cloud(self, site: str, cloud: str) -> str | None:
        return next(
            (t.name for t in self.tenants.values() if t.site == site and t.cloud.casefold() == cloud.casefold()),
            None,
        )

    def tenant_of_vm_network(self, site: str, network: str) -> str | None:
        return next(
            (
                t.name
                for t in self.tenants.values()
                if t.site == site and network.casefold() in {n.casefold() for n in t.vm_networks}
            ),
            None,
        )

    def tenant_of_subscription(self, site: str, subscription: str) -> str | None:
        return next(
            (
                t.name
                for t in self.tenants.values()
                if t.site == site and t.subscription.casefold() == subscription.casefold()
            ),
            None,
        )
