"""Multi-tenant isolation across documents: one vault per VMM server, each tenant its own cloud, VM
networks, storage account and subscription + resource group, and WAP plans 1-to-1 with subscriptions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.yamlsource import FieldPath

# (scope, value, path): the value must be unique within its scope (a site, a subscription, or "").
Key = Callable[[SpecDocument[Any]], Iterable[tuple[str, str, FieldPath]]]


def _shared(docs: Iterable[SpecDocument[Any]], key: Key, *, code: str, message: str, hint: str) -> Iterator[Diagnostic]:
    """Report each document whose value (case-insensitive, within its scope) an earlier document already uses.
    ``message`` may name ``{value}``, ``{scope}`` and the earlier document as ``{other}``."""
    owners: dict[tuple[str, str], tuple[SpecDocument[Any], FieldPath]] = {}
    for doc in docs:
        for scope, value, path in key(doc):
            owner = owners.setdefault((scope.lower(), value.lower()), (doc, path))
            if owner[0] is not doc:
                yield doc.diagnostic(
                    code,
                    path,
                    message.format(value=value, scope=scope, other=owner[0].name),
                    hint=hint,
                    related=(owner[0].where(owner[1]),),
                )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    tenants = list(specs.tenants.values())
    yield from _shared(
        specs.sites.values(),
        lambda d: [("", d.model.spec.vmm.server, ("spec", "vmm", "server"))],
        code="site.shared-vmm-server",
        message="VMM server {value!r} is already described by site {other!r}",
        hint="a VMM server registers with exactly one recovery vault: describe it in one Site",
    )
    yield from _shared(
        tenants,
        lambda d: [(d.model.spec.site, d.model.spec.cloud.name, ("spec", "cloud", "name"))],
        code="tenant.shared-cloud",
        message="cloud {value!r} on site {scope!r} already belongs to tenant {other!r}",
        hint="each tenant gets its own VMM cloud (it is the tenant's ASR protection container)",
    )
    yield from _shared(
        tenants,
        lambda d: [
            (d.model.spec.site, n.name, ("spec", "vmNetworks", i, "name"))
            for i, n in enumerate(d.model.spec.vm_networks)
        ],
        code="tenant.shared-vm-network",
        message="VM network {value!r} on site {scope!r} already belongs to tenant {other!r}",
        hint="VM networks are per tenant; give this one a tenant-specific name",
    )
    with_recovery = [t for t in tenants if t.model.spec.recovery is not None]
    yield from _shared(
        with_recovery,
        lambda d: [("", d.model.spec.recovery.storage_account.name, ("spec", "recovery", "storageAccount", "name"))],
        code="tenant.shared-storage-account",
        message="storage account {value!r} already belongs to tenant {other!r}",
        hint="each tenant replicates into its own storage account, in its own subscription",
    )
    yield from _shared(
        with_recovery,
        lambda d: [
            (
                d.model.spec.plan.azure.subscription_id,
                d.model.spec.recovery.resource_group,
                ("spec", "recovery", "resourceGroup"),
            )
        ],
        code="tenant.shared-resource-group",
        message="resource group {value!r} in subscription {scope} already belongs to tenant {other!r}",
        hint="give each tenant its own resource group",
    )
    yield from _shared(
        tenants,
        lambda d: [("", d.model.spec.plan.name, ("spec", "plan", "name"))],
        code="tenant.plan-not-one-to-one",
        message="plan {value!r} is already used by tenant {other!r}",
        hint="an Azure Pack plan maps to exactly one Azure subscription and one tenant",
    )
    yield from _shared(
        tenants,
        lambda d: [("", d.model.spec.plan.azure.subscription_id, ("spec", "plan", "azure", "subscriptionId"))],
        code="tenant.plan-not-one-to-one",
        message="Azure subscription {value} is already used by tenant {other!r}",
        hint="an Azure subscription maps to exactly one Azure Pack plan",
    )
