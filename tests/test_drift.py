"""``reconciler drift``: refresh only, every resource classified (in-sync, drifted, missing, pending, unmanaged).

End to end on the embedded estate in ``tmp_path``: apply the example specs, then change the estate behind the
tool's back (``EstateStore`` directly, as an operator in VMM or the Azure portal would) or edit a copy of the
specs, and check what drift reports. Plus the pure classifier (``engine/drift.py``) on small inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Mode, Observed, Policy, Resource
from reconciler.engine import drift
from reconciler.engine.drift import DriftClass
from reconciler.providers.embedded import seed
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.store import db as store_db
from reconciler.store import history
from tests.helpers import EMBEDDED_ENV, SPECS, applied_estate, isolate
from tests.helpers import drift_as_json as _drift_json
from tests.helpers import edit_row as _edit
from tests.helpers import out as _out
from tests.helpers import run as _run

SITE = "contoso-west"
POLICY = Address("asr.replication_policy", "acmecorp", "AcmeCorp-Policy")
MAPPING = Address("asr.network_mapping", "acmecorp", "YellowNetwork")
EXTRA_POLICY = Address("asr.replication_policy", "acmecorp", "Rogue-Policy")
BIOS = Address("bmc.bios", SITE, "HV01.contoso.int")
VM01 = Address("hyperv.vm_memory", "acmecorp", "VM01")
VM02 = Address("hyperv.vm_memory", "acmecorp", "VM02")
ENVIRONMENT = (
    seed.ENV_ESTATE_DB,
    *EMBEDDED_ENV,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private history store per test: last_applied must be this test's apply, nobody else's."""
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT, audit_log="-")


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate with the example specs applied (disruptive steps allowed)."""
    return applied_estate(tmp_path / "estate.db")


def _by_address(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in document["resources"]}


def _snapshot(estate: Path) -> list[tuple[str, str, int]]:
    store = EstateStore(estate)
    try:
        return [(str(r.address), json.dumps(r.data, sort_keys=True), r.version) for r in store.all()]
    finally:
        store.close()


# --------------------------------------------------------------------------------------------- end to end


def test_after_apply_everything_is_in_sync(estate: Path) -> None:
    text = _run("drift", SPECS, "--estate", estate)
    assert text.exit_code == 0, _out(text)
    assert "No drift. The estate matches the specs (45 objects)." in _out(text)
    code, document = _drift_json(SPECS, estate)
    assert code == 0
    assert document["formatVersion"] == drift.DRIFT_FORMAT_VERSION
    assert document["kind"] == "drift"
    assert document["counts"] == {
        "total": 45,
        "in-sync": 45,
        "drifted": 0,
        "missing": 0,
        "pending": 0,
        "unmanaged": 0,
    }
    scopes = {(s["site"], s["tenant"]): s["counts"]["in-sync"] for s in document["scopes"]}
    assert set(scopes) == {(SITE, None), (SITE, "acmecorp"), (SITE, "fabrikam")}
    assert sum(scopes.values()) == 45
    assert all(r["class"] == "in-sync" for r in document["resources"])


def test_changes_behind_the_tools_back_are_classified(estate: Path) -> None:
    def slower(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 300

    def dapc(row: Row) -> None:
        row.data["attributes"] = {**row.data["attributes"], "SysProfile": "PerfPerWattOptimizedDapc"}

    def smaller(row: Row) -> None:
        row.data["startup"] = 2048

    def reprioritised(row: Row) -> None:  # VM01 ignores memory.priority (lifecycle.ignoreFields)
        row.data["priority"] = 80

    _edit(estate, POLICY, slower)
    _edit(estate, BIOS, dapc)
    _edit(estate, VM02, smaller)
    _edit(estate, VM01, reprioritised)
    store = EstateStore(estate)
    try:
        assert store.delete(MAPPING)
        policy = store.get(POLICY)
        assert policy is not None
        store.put(Row(EXTRA_POLICY, {**policy.data, "name": EXTRA_POLICY.name}))  # made by hand in the portal
    finally:
        store.close()
    before = _snapshot(estate)

    code, document = _drift_json(SPECS, estate)
    assert code == 2
    found = _by_address(document)
    assert found[str(POLICY)]["class"] == "drifted"
    assert found[str(POLICY)]["fields"] == [{"path": "replicationIntervalSeconds", "expected": 900, "actual": 300}]
    assert found[str(POLICY)]["lastApplied"]["runId"]
    assert found[str(BIOS)]["class"] == "drifted"
    assert found[str(BIOS)]["fields"] == [
        {"path": "attributes.SysProfile", "expected": "PerfOptimized", "actual": "PerfPerWattOptimizedDapc"}
    ]
    assert found[str(VM02)]["class"] == "drifted"
    assert found[str(VM02)]["fields"] == [{"path": "startup", "expected": 4096, "actual": 2048}]
    assert found[str(VM01)]["class"] == "in-sync"
    assert "ignoreFields" in found[str(VM01)]["reason"]
    assert found[str(MAPPING)]["class"] == "missing"
    assert found[str(EXTRA_POLICY)]["class"] == "unmanaged"
    assert found[str(EXTRA_POLICY)]["live"]["replicationIntervalSeconds"] == 300
    assert "not created by reconciler" in found[str(EXTRA_POLICY)]["reason"]
    assert document["counts"] == {
        "total": 46,
        "in-sync": 41,
        "drifted": 3,
        "missing": 1,
        "pending": 0,
        "unmanaged": 1,
    }
    acme = next(s for s in document["scopes"] if s["tenant"] == "acmecorp")
    assert acme["counts"] == {"in-sync": 9, "drifted": 2, "missing": 1, "pending": 0, "unmanaged": 1}
    site = next(s for s in document["scopes"] if s["tenant"] is None)
    assert site["counts"]["drifted"] == 1

    text = _run("drift", SPECS, "--estate", estate)
    assert text.exit_code == 2
    shown = _out(text)
    assert "replicationIntervalSeconds: expected 900, actual 300" in shown
    assert "attributes.SysProfile: expected PerfOptimized, actual PerfPerWattOptimizedDapc" in shown
    assert "startup: expected 4GiB, actual 2GiB" in shown
    assert f"missing   network mapping YellowNetwork  {MAPPING}" in shown
    assert f"unmanaged replication policy Rogue-Policy  {EXTRA_POLICY}" in shown
    assert "Drift: 3 drifted, 1 missing, 0 pending, 1 unmanaged; 41 in sync (46 objects)." in shown
    assert shown.index("site contoso-west") < shown.index("tenant acmecorp") < shown.index("tenant fabrikam")

    assert _snapshot(estate) == before  # drift changes nothing
    assert _run("locks").stdout.strip().startswith("No")  # and holds no lock
    assert [r.kind for r in history.list_runs(kind="apply")] == ["apply"]  # nor applies (its own run is kind drift)


def test_a_spec_edit_not_applied_yet_is_pending_not_drift(estate: Path, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    tenant = specs / "tenants" / "acmecorp.yaml"
    text = tenant.read_text(encoding="utf-8")
    assert "replicationIntervalSeconds: 900" in text
    tenant.write_text(text.replace("replicationIntervalSeconds: 900", "replicationIntervalSeconds: 300"), "utf-8")

    code, document = _drift_json(specs, estate)
    assert code == 2
    policy = _by_address(document)[str(POLICY)]
    assert policy["class"] == "pending"
    assert policy["fields"] == [{"path": "replicationIntervalSeconds", "expected": 300, "actual": 900}]
    assert "spec changed since the last apply" in policy["reason"]
    assert document["counts"]["pending"] == 1
    assert document["counts"]["drifted"] == 0

    # Live changed too, to something else again: still waiting for apply, not drift.
    def other(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 30

    _edit(estate, POLICY, other)
    _, again = _drift_json(specs, estate)
    assert _by_address(again)[str(POLICY)]["class"] == "pending"

    # Applied: in sync again.
    assert _run("apply", specs, "--yes", "--estate", estate).exit_code == 0
    code, document = _drift_json(specs, estate)
    assert code == 0, document["counts"]


def test_target_limits_the_report_and_keeps_the_rest_declared(estate: Path) -> None:
    def slower(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 300

    _edit(estate, POLICY, slower)
    code, document = _drift_json(SPECS, estate, "--target", "tenant/fabrikam")
    assert code == 0
    assert all(r["tenant"] == "fabrikam" or r["tenant"] is None for r in document["resources"])
    assert document["targets"] == ["tenant/fabrikam"]
    code, document = _drift_json(SPECS, estate, "--target", "tenant/acmecorp")
    assert code == 2
    assert document["counts"]["drifted"] == 1
    assert document["counts"]["unmanaged"] == 0


def test_an_unusable_history_store_is_an_error(estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(store_db.ENV_DATABASE_URL, f"sqlite:///{blocker / 'state.db'}")
    result = _run("drift", SPECS, "--estate", estate)
    assert result.exit_code == 1
    assert "cannot open the history store" in _out(result)
    assert "RECONCILER_DATABASE_URL" in _out(result)


def test_bad_specs_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: reconciler/v1\nkind: Tenant\nmetadata: {name: x}\nspec: {nope: 1}\n", "utf-8")
    assert _run("drift", bad, "--estate", tmp_path / "estate.db").exit_code == 1


# --------------------------------------------------------------------------------------------- the classifier


ADDRESS = Address("asr.replication_policy", "t1", "P")
DESIRED = {"name": "P", "replicationIntervalSeconds": 900}


def _resource(**policy: Any) -> Resource:
    return Resource(ADDRESS, dict(DESIRED), site="s1", tenant="t1", policy=Policy(**policy))


def _seen(**data: Any) -> Observed:
    return Observed(ADDRESS, {**DESIRED, **data}, version="7")


def _applied(desired: dict[str, Any]) -> history.Applied:
    return history.Applied(address=str(ADDRESS), desired=desired, applied_at="2025-01-01T00:00:00", run_id="r1")


@pytest.mark.parametrize(
    ("observed", "applied", "policy", "expected"),
    [
        (_seen(), None, {}, DriftClass.IN_SYNC),
        (_seen(), _applied(DESIRED), {}, DriftClass.IN_SYNC),
        (_seen(replicationIntervalSeconds=300), _applied(DESIRED), {}, DriftClass.DRIFTED),
        (_seen(replicationIntervalSeconds=300), _applied({**DESIRED, "replicationIntervalSeconds": 60}), {}, "pending"),
        (_seen(replicationIntervalSeconds=300), None, {}, DriftClass.PENDING),
        (_seen(replicationIntervalSeconds=300), None, {"mode": Mode.OBSERVE}, DriftClass.DRIFTED),
        (_seen(replicationIntervalSeconds=300), None, {"ignore_fields": ("replicationIntervalSeconds",)}, "in-sync"),
        (None, _applied(DESIRED), {}, DriftClass.MISSING),
        (None, None, {}, DriftClass.PENDING),
        (None, None, {"mode": Mode.OBSERVE}, DriftClass.MISSING),
    ],
)
def test_classify_one(
    observed: Observed | None, applied: history.Applied | None, policy: dict[str, Any], expected: str
) -> None:
    entry = drift.classify_one(_resource(**policy), observed, applied)
    assert entry.drift_class == expected
    if expected == DriftClass.DRIFTED:
        assert entry.fields == (drift.FieldDrift("replicationIntervalSeconds", 900, 300),)


def test_a_missing_vm_is_missing_with_the_planners_error() -> None:
    vm = Resource(VM01, {"startup": 2048}, site=SITE, tenant="acmecorp", policy=Policy(creatable=False))
    entry = drift.classify_one(vm, None, None)
    assert entry.drift_class is DriftClass.MISSING
    assert "does not exist" in entry.error


def test_lifecycle_only_differences_are_pending() -> None:
    owned = Observed(ADDRESS, dict(DESIRED), status={"marker": {"protect": False, "prune": False}}, owned=True)
    entry = drift.classify_one(_resource(prune=True), owned, _applied(DESIRED))
    assert entry.drift_class is DriftClass.PENDING
    assert [f.path for f in entry.fields] == ["lifecycle.prune"]


def test_the_report_counts_and_redacts() -> None:
    other = Address("asr.replication_policy", "t1", "Other")
    report = drift.make_report(
        [_resource()],
        {ADDRESS: _seen(replicationIntervalSeconds=300), other: Observed(other, {"name": "Other", "token": "abc"})},
        {str(ADDRESS): _applied(DESIRED)},
        created_at="2025-01-01T00:00:00+00:00",
    )
    assert report.counts() == {"in-sync": 0, "drifted": 1, "missing": 0, "pending": 0, "unmanaged": 1}
    assert [(s.site, s.tenant) for s in report.by_scope()] == [("s1", "t1")]
    masked = drift.redacted(report, lambda v: {**v, "token": "***"} if isinstance(v, dict) and "token" in v else v)
    assert masked.entries[1].live == {"name": "Other", "token": "***"}


def test_a_vm_added_to_a_tenant_cloud_by_hand_is_unmanaged_and_never_deleted(estate: Path) -> None:
    """The seed's case: someone creates a VM in AcmeCorp's cloud outside the specs. Drift names it; the
    plan lists it as not declared, and not even --prune deletes a VM."""
    rogue = Address("hyperv.vm_memory", "acmecorp", "ROGUE01")
    store = EstateStore(estate)
    try:
        vm = store.get(VM01)
        assert vm is not None
        store.put(Row(rogue, dict(vm.data), {"powerState": "Running", "cloud": "AcmeCorp Cloud"}))
    finally:
        store.close()
    code, document = _drift_json(SPECS, estate)
    assert code == 2
    found = _by_address(document)
    assert found[str(rogue)]["class"] == "unmanaged"
    assert "VMs are never deleted" in found[str(rogue)]["reason"]
    plan = _run("plan", SPECS, "--estate", estate, "--prune", "--json")
    assert plan.exit_code == 0, _out(plan)
    changes = {c["address"]: c for c in json.loads(plan.stdout)["changes"]}
    assert changes[str(rogue)]["action"] == "noop"
    assert changes[str(rogue)]["noopReason"] == "not-declared"


def test_an_item_may_accept_every_difference(estate: Path, tmp_path: Path) -> None:
    """``lifecycle.ignoreFields: ["*"]``: a known, accepted difference that must not page anyone."""
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    tenant = specs / "tenants" / "acmecorp.yaml"
    tenant.write_text(
        tenant.read_text(encoding="utf-8").replace(
            "      appConsistentSnapshotHours: 1\n",
            "      appConsistentSnapshotHours: 1\n      lifecycle: {ignoreFields: ['*']}\n",
        ),
        encoding="utf-8",
    )

    def slower(row: Row) -> None:
        row.data["replicationIntervalSeconds"] = 300

    _edit(estate, POLICY, slower)
    code, document = _drift_json(specs, estate)
    found = _by_address(document)
    assert found[str(POLICY)]["class"] == "in-sync"
    assert code == 0, [a for a, e in found.items() if e["class"] != "in-sync"]
