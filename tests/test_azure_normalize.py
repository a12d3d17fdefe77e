"""Fixture cases for ``providers.azure.normalize``: ARM JSON as Azure returns it -> the normalized object.

One YAML file per case under ``tests/fixtures/azure/<kind>/``, starting with a one-line comment saying
what the case shows in operator terms::

    arm: {...}                       # the ARM JSON object (wire names, camelCase), shaped on Microsoft's examples
    vault: WAPRecoveryVault          # only for asr.replication_policy: the vault_name argument
    expect:                          # or null: the object belongs to another replication scenario
      name: AcmeCorp-Policy          # Normalized.name (what the engine keys the object by)
      data: {...}                    # exact
      status: {state: Paired}        # optional: a subset that must be present in status
      owned: true                    # optional, default false
      scope: acmecorp                # optional, default none

The module also holds the suite to its coverage (every kind has at least two cases, one of them an object,
and the kinds that skip other scenarios show one being skipped) and checks that the normalized data
carries exactly the field names the spec's desired shape uses (``engine.expand``), so the planner
compares like with like.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.providers.azure import normalize
from reconciler.providers.azure.normalize import Normalized
from tests.helpers import desired_fields

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
CASES = sorted(FIXTURES.glob("*/*.yaml"))
SPECS = Path(__file__).resolve().parent.parent / "specs"

_CASE_KEYS = {"arm", "vault", "expect", "providers", "protectedItems"}
NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)  # the read's time, for provider expiry and heartbeat
_EXPECT_KEYS = {"name", "data", "status", "owned", "scope"}

NORMALIZE: dict[str, Callable[[dict[str, Any], dict[str, Any]], Normalized | None]] = {
    "asr.vault": lambda arm, _: normalize.vault(arm),
    "azure.resource_group": lambda arm, _: normalize.resource_group(arm),
    "azure.storage_account": lambda arm, _: normalize.storage_account(arm),
    "azure.virtual_network": lambda arm, _: normalize.virtual_network(arm),
    "asr.replication_policy": lambda arm, case: normalize.replication_policy(arm, case["vault"]),
    "asr.policy_association": lambda arm, _: normalize.policy_association(arm),
    "asr.network_mapping": lambda arm, _: normalize.network_mapping(arm),
    "asr.protected_item": lambda arm, _: normalize.protected_item(arm),
    "asr.vmm_server": lambda arm, case: normalize.vmm_server(
        arm, case["vault"], [normalize.recovery_services_provider(p, NOW) for p in case.get("providers") or []]
    ),
    "asr.recovery_plan": lambda arm, case: normalize.recovery_plan(
        arm,
        {
            str(i["id"]).casefold(): (
                i["properties"]["friendlyName"],
                i["properties"]["primaryProtectionContainerFriendlyName"],
            )
            for i in case.get("protectedItems") or []
        },
    ),
}
# Kinds whose list holds objects of other replication scenarios too: their cases show one being skipped.
SKIPS_OTHER_SCENARIOS = {
    "asr.replication_policy",
    "asr.policy_association",
    "asr.network_mapping",
    "asr.protected_item",
    "asr.vmm_server",
    "asr.recovery_plan",
}

# Spec fields a normalized object may lack: kind -> {field: why}.
NOT_READ = {
    "asr.replication_policy": {"startTime": "only a policy with a scheduled initial replication has one"},
    "asr.network_mapping": {
        "azureSubnet": "ASR keeps the subnet on each protected VM, not on the mapping: the provider fills in the spec's"
    },
    "asr.protected_item": {"diskType": "only a VM replicating to managed disks has a disk type"},
}

MISSING = "<missing>"


def _id(case: Path) -> str:
    return f"{case.parent.name}/{case.stem}"


def _load(case: Path) -> dict[str, Any]:
    text = case.read_text()
    first = text.splitlines()[0] if text else ""
    assert first.startswith("# ") and len(first) > 2, (
        f"{case.name}: start with a one-line comment saying what the case shows"
    )
    doc: dict[str, Any] = yaml.safe_load(text)
    _only(doc, _CASE_KEYS, case.name)
    assert isinstance(doc.get("arm"), dict), f"{case.name}: arm is the ARM JSON object"
    assert "expect" in doc, f"{case.name}: say what to expect (null: the object is skipped)"
    kind = case.parent.name
    if kind in ("asr.replication_policy", "asr.vmm_server"):
        assert isinstance(doc.get("vault"), str), f"{case.name}: a {kind} case names its vault"
    else:
        assert "vault" not in doc, f"{case.name}: only policy and VMM server cases name a vault"
    if doc["expect"] is not None:
        _only(doc["expect"], _EXPECT_KEYS, "expect")
        assert {"name", "data"} <= set(doc["expect"]), f"{case.name}: expect names the object and its data"
    return doc


def _only(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    """A misspelt key would silently test nothing: refuse it."""
    unknown = set(mapping) - allowed
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"


def _normalize(case: Path, doc: dict[str, Any]) -> Normalized | None:
    kind = case.parent.name
    assert kind in NORMALIZE, f"{case}: the folder names no Azure kind ({sorted(NORMALIZE)})"
    return NORMALIZE[kind](doc["arm"], doc)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(case: Path) -> None:
    doc = _load(case)
    got = _normalize(case, doc)
    expect = doc["expect"]
    if expect is None:
        assert got is None, f"another scenario is skipped, but normalized to {got}"
        return
    assert got is not None, "skipped as another scenario, but the case expects an object"
    data, wanted = dict(got.data), dict(expect["data"])
    assert got.name == expect["name"]
    assert data == wanted
    status = expect.get("status") or {}
    assert {k: got.status.get(k, MISSING) for k in status} == status
    assert got.owned is expect.get("owned", False)
    assert got.scope == expect.get("scope")
    # The marker (what the tool's tags say) is there exactly when the object is owned.
    assert ("marker" in got.status) is got.owned


@cache
def _desired_fields() -> dict[str, frozenset[str]]:
    """The field names of each Azure kind's desired shape, from the example specs."""
    return desired_fields(NORMALIZE)


OBJECT_CASES = [c for c in CASES if (yaml.safe_load(c.read_text()) or {}).get("expect") is not None]


@pytest.mark.parametrize("case", OBJECT_CASES, ids=[_id(c) for c in OBJECT_CASES])
def test_data_has_the_spec_field_names(case: Path) -> None:
    """The planner diffs normalized data against the desired dict: the field names must be the spec's."""
    kind = case.parent.name
    desired = _desired_fields().get(kind)
    assert desired, f"the example specs expand no {kind} to compare with"
    got = _normalize(case, _load(case))
    assert got is not None
    extra = set(got.data) - desired
    assert not extra, f"fields the spec does not have: {sorted(extra)}"
    missing = desired - set(got.data) - set(NOT_READ.get(kind, {}))
    assert not missing, f"spec fields the normalized object lacks: {sorted(missing)}"


def test_every_kind_has_its_cases() -> None:
    """Per kind: at least two cases, one of them an object; kinds that skip other scenarios show a skip."""
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders <= set(NORMALIZE), f"folders that are not Azure kinds: {sorted(folders - set(NORMALIZE))}"
    missing: list[str] = []
    for kind in NORMALIZE:
        cases = sorted((FIXTURES / kind).glob("*.yaml"))
        expects = [_load(c)["expect"] for c in cases]
        if len(cases) < 2:
            missing.append(f"{kind}: at least 2 cases (has {len(cases)})")
        if not any(e is not None for e in expects):
            missing.append(f"{kind}: a case that normalizes to an object")
        if kind in SKIPS_OTHER_SCENARIOS and not any(e is None for e in expects):
            missing.append(f"{kind}: a case of another scenario (expect: null)")
    assert not missing, "\n".join(missing)
