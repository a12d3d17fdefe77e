"""Disaster recovery expands in the seed's order (engine/expand_recovery.py): the vault's resource group before
the vault, the VMM server's registration after it; per tenant, the policy's association with the cloud before
the network mappings (they no longer run side by side), every ASR object under the VMM server's fabric after
the registration, the recovery plans after the VMs they hold; and where the tenant's replicas go."""

from __future__ import annotations

from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.engine import expand
from reconciler.spec.loader import load_paths
from tests.helpers import SPECS


def _resources() -> dict[Address, Resource]:
    loaded = load_paths([SPECS])
    assert loaded.ok
    return {r.address: r for r in expand.expand(loaded.specs)}


def _a(text: str) -> Address:
    return Address.parse(text)


def test_the_seeds_order() -> None:
    r = _resources()
    registration = _a("asr.vmm_server:contoso-west/VMM01.contoso.int")
    vault = _a("asr.vault:contoso-west/WAPRecoveryVault")
    assert r[vault].depends_on == (_a("azure.resource_group:contoso-west/WAPRecoveryGroup"),)
    assert r[registration].depends_on == (vault,)
    association = _a("asr.policy_association:fabrikam/Fabrikam Cloud")
    assert registration in r[association].depends_on
    mapping = r[_a("asr.network_mapping:fabrikam/BlueNetwork")]
    assert association in mapping.depends_on and registration in mapping.depends_on
    plan = r[_a("asr.recovery_plan:fabrikam/Fabrikam-DR")]
    assert {_a("asr.protected_item:fabrikam/FAB-SQL01"), _a("asr.protected_item:fabrikam/FAB-WEB01")} <= set(
        plan.depends_on
    )
    assert plan.desired == {"name": "Fabrikam-DR", "groups": [["FAB-SQL01"], ["FAB-WEB01"]]}


def test_where_each_tenants_replicas_go() -> None:
    r = _resources()
    # Fabrikam names StandardSSD_LRS; AcmeCorp names nothing: managed disks of the default type.
    assert r[_a("asr.protected_item:fabrikam/FAB-WEB01")].desired["diskType"] == "StandardSSD_LRS"
    acme = r[_a("asr.protected_item:acmecorp/VM01")].desired
    assert (acme["replicateTo"], acme["diskType"]) == ("ManagedDisks", "Standard_LRS")
    assert r[_a("azure.resource_group:contoso-west/WAPRecoveryGroup")].policy.protect  # the vault's lifecycle
