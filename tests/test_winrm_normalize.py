"""Fixture cases for ``providers.winrm.normalize``: what a shipped script prints for one object -> the normalized
object the engine diffs against the specs.

One YAML file per case under ``tests/fixtures/winrm/read/<kind>/``, starting with a one-line comment saying what
the case shows in operator terms::

    output: {...}                    # one object as the script prints it (Get-SC* property names), in JSON
    expect:
      name: PA-Pool                  # Normalized.name (what the engine keys the object by)
      data: {...}                    # exact
      status: {powerState: Running}  # optional: a subset that must be present in status
      owned: true                    # optional, default false (from the Description's marker)
      scope: contoso-west            # optional, default none (the scope the marker names)

The module holds the suite to its coverage (every kind of the provider has at least two cases) and checks that
the normalized data carries exactly the field names the spec's desired shape uses (``engine.expand``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.providers.winrm import normalize
from reconciler.providers.winrm.normalize import Normalized
from reconciler.providers.winrm.provider import KINDS
from tests.helpers import desired_fields

FIXTURES = Path(__file__).parent / "fixtures" / "winrm" / "read"
CASES = sorted(FIXTURES.glob("*/*.yaml"))
SPECS = Path(__file__).resolve().parent.parent / "specs"

NORMALIZE: dict[str, Callable[[Mapping[str, Any]], Normalized]] = {
    "vmm.logical_network": normalize.logical_network,
    "vmm.network_site": normalize.network_site,
    "vmm.ip_pool": normalize.ip_pool,
    "vmm.uplink_port_profile": normalize.uplink_port_profile,
    "vmm.port_classification": normalize.port_classification,
    "vmm.logical_switch": normalize.logical_switch,
    "vmm.host_switch": normalize.host_switch,
    "vmm.vm_network": normalize.vm_network,
    "vmm.cloud": normalize.cloud,
    "hyperv.vm_memory": normalize.vm_memory,
    "host.state": normalize.host_state,
    "host.power_policy": normalize.power_policy,
}
# Spec fields a normalized object may lack: kind -> {field: why}.
NOT_READ = {"vmm.cloud": {"capacity": "a cloud whose every quota is unlimited has no capacity to report"}}
INVENTORY = {"host.state"}  # never declared in specs: no desired shape to compare with
MISSING = "<missing>"


def _load(case: Path) -> dict[str, Any]:
    text = case.read_text()
    assert text.startswith("# ") and len(text.splitlines()[0]) > 2, f"{case.name}: start with a one-line comment"
    doc: dict[str, Any] = yaml.safe_load(text)
    assert set(doc) == {"output", "expect"}, f"{case.name}: output and expect, nothing else"
    assert isinstance(doc["output"], dict), f"{case.name}: output is one object as the script prints it"
    unknown = set(doc["expect"]) - {"name", "data", "status", "owned", "scope"}
    assert not unknown, f"{case.name}: unknown keys in expect: {sorted(unknown)}"
    return doc


def _id(case: Path) -> str:
    return f"{case.parent.name}/{case.stem}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(case: Path) -> None:
    doc = _load(case)
    got = NORMALIZE[case.parent.name](doc["output"])
    expect = doc["expect"]
    assert got.name == expect["name"]
    assert got.data == expect["data"]
    status = expect.get("status") or {}
    assert {k: got.status.get(k, MISSING) for k in status} == status
    assert got.owned is expect.get("owned", False)
    assert got.scope == expect.get("scope")
    assert ("marker" in got.status) is got.owned  # the marker is there exactly when the object is the tool's


@cache
def _desired_fields() -> dict[str, frozenset[str]]:
    return desired_fields(NORMALIZE)


SHAPED = [c for c in CASES if c.parent.name not in INVENTORY]


@pytest.mark.parametrize("case", SHAPED, ids=[_id(c) for c in SHAPED])
def test_data_has_the_spec_field_names(case: Path) -> None:
    kind = case.parent.name
    desired = _desired_fields().get(kind)
    assert desired, f"the example specs expand no {kind} to compare with"
    got = NORMALIZE[kind](_load(case)["output"])
    assert not set(got.data) - desired, f"fields the spec does not have: {sorted(set(got.data) - desired)}"
    missing = desired - set(got.data) - set(NOT_READ.get(kind, {}))
    assert not missing, f"spec fields the normalized object lacks: {sorted(missing)}"


def test_every_kind_of_the_provider_has_its_cases() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == set(NORMALIZE) == set(KINDS)
    short = [k for k in NORMALIZE if len(list((FIXTURES / k).glob("*.yaml"))) < 2]
    assert not short, f"kinds with fewer than 2 cases: {short}"


def test_power_plans_round_trip_by_guid() -> None:
    for guid, name in normalize.POWER_PLANS.items():
        assert normalize.PLAN_GUIDS[name.casefold()] == guid
