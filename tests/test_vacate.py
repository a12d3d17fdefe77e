"""The planner's ordered replace around a dependency's change (``KindInfo.vacate_for``, ``ResourceChange.vacates``),
pure and on the embedded estate, which refuses like ASR to re-point a cloud's policy while its VMs replicate with
the old one."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.resources import Observed, Resource
from reconciler.engine import planner
from tests.helpers import EMBEDDED_ENV, applied_estate, copy_specs, edit_text, isolate, out, plan_json, run

ASSOCIATION = Address("asr.policy_association", "acmecorp", "AcmeCorp Cloud")
VM01 = Address("asr.protected_item", "acmecorp", "VM01")
ITEM = {
    "vm": "VM01",
    "cloud": "AcmeCorp Cloud",
    "policy": "AcmeCorp-Policy-v2",
    "storageAccount": "drstorageacct1",
    "osType": "Windows",
    "targetVmSize": "Standard_D2s_v3",
    "targetResourceGroup": "AcmeCorpRecoveryGroup",
    "targetNetwork": "YellowNetwork",
    "targetSubnet": "Subnet1",
}


def _plan(association_live: dict[str, str] | None) -> dict[Address, ResourceChange]:
    resources = [
        Resource(ASSOCIATION, {"cloud": "AcmeCorp Cloud", "policy": "AcmeCorp-Policy-v2"}, site="w", tenant="acmecorp"),
        Resource(VM01, dict(ITEM), (ASSOCIATION,), site="w", tenant="acmecorp"),
    ]
    live = {
        ASSOCIATION: Observed(ASSOCIATION, association_live, owned=True) if association_live else None,
        VM01: Observed(VM01, {**ITEM, "policy": "AcmeCorp-Policy"}, {"diskSizeMB": 40960}, owned=True),
    }
    plan = planner.make_plan(resources, live, created_at="t")
    return {c.address: c for c in plan.changes}


def test_a_replace_goes_first_around_its_dependencys_change() -> None:
    changes = _plan({"cloud": "AcmeCorp Cloud", "policy": "AcmeCorp-Policy"})
    association, vm = changes[ASSOCIATION], changes[VM01]
    assert association.action is Action.UPDATE and vm.action is Action.REPLACE
    assert association.vacates == (VM01,)
    assert "protected VM VM01 is deleted before this change and created again after it" in association.disruptive
    assert "(40 GB)" in association.disruptive
    assert vm.depends_on == (ASSOCIATION,)  # and still created after it


def test_nothing_goes_first_when_the_dependency_is_created() -> None:
    changes = _plan(None)
    assert changes[ASSOCIATION].vacates == ()


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV)
    return applied_estate(tmp_path / "estate.db")


def test_the_embedded_estate_switches_a_protected_clouds_policy_in_order(estate: Path, tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    edit_text(specs / "tenants" / "acmecorp.yaml", "name: AcmeCorp-Policy\n", "name: AcmeCorp-Policy-v2\n")
    document = plan_json(specs, estate)
    association = next(c for c in document["changes"] if c["address"] == str(ASSOCIATION))
    assert association["vacates"] == [str(VM01)]
    held = run("apply", specs, "--yes", "--estate", estate)
    assert held.exit_code == 0 and "held" in out(held), out(held)
    applied = run("apply", specs, "--yes", "--allow-disruption", "--estate", estate)
    assert applied.exit_code == 0, out(applied)
    assert run("plan", specs, "--detailed-exitcode", "--estate", estate).exit_code == 0
