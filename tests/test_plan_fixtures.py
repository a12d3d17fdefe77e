"""One fixture per planner decision: a desired resource and its live object in, the planned change out.

Each case is ``tests/fixtures/plan/<kind>/<case>.yaml``, the folder named exactly like the kind
(``hyperv.vm_memory/``). The planner is pure, so a case is data only::

    # one line: what the case shows, in operator terms
    resource:
      address: "hyperv.vm_memory:acmecorp/VM01"
      desired: {...}                 # the normalized shape engine/expand.py builds
      policy: {ignoreFields: [priority], mode: observe, creatable: false, protect: true}
                                     # optional; creatable defaults from core.kinds, the rest from Policy()
    observed:                        # or null: the object does not exist
      data: {...}                    # the shape a provider reads back
      status: {powerState: Running}  # optional
      owned: false                   # optional, default true: the object carries the tool's ownership tags
    expect:
      action: update                 # create | update | replace | noop
      noopReason: in-sync            # required for a noop: in-sync | observe-only | ignored-fields |
                                     # missing-unmanaged | unowned
      fields: [{path: startup, old: 512, new: 2048}]  # exact list, order-insensitive; omitted => empty.
                                     # A field of an immutable property also says ``immutable: true``.
      disruptive: "VM off"           # substring; omitted => not disruptive
      error: "does not exist"        # substring; omitted => no error

The test also holds the suite to its coverage: every kind in ``core.kinds.KINDS`` has a folder with an
in-sync no-op, an update, and a create (or, for kinds the tool only configures, a missing object that
is an error and never a create). A kind that has nothing to update in place shows a replace instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core import kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, FieldChange, NoopReason, ResourceChange
from reconciler.core.resources import Mode, Observed, Policy, Resource
from reconciler.engine import planner

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
CASES = sorted(FIXTURES.glob("*/*.yaml"))

_CASE_KEYS = {"resource", "observed", "expect"}
_RESOURCE_KEYS = {"address", "desired", "policy"}
_POLICY_KEYS = {"ignoreFields", "mode", "creatable", "protect", "prune"}
_OBSERVED_KEYS = {"data", "status", "owned"}
_EXPECT_KEYS = {"action", "noopReason", "fields", "disruptive", "error"}
_FIELD_KEYS = {"path", "old", "new", "immutable"}

# Kinds whose every managed field but the name (the address) is immutable: no change is in place.
NO_UPDATE = {"azure.resource_group": "a resource group manages only subscription and region, both immutable"}
# Kinds the tool checks and never changes: every field names the object.
CHECKED_ONLY = {"asr.vmm_server": "a VMM server registers itself with the vault; the tool only checks it"}


def _load(case: Path) -> dict[str, Any]:
    text = case.read_text()
    assert text.startswith("# "), f"{case.name}: start with a one-line comment saying what the case shows"
    doc: dict[str, Any] = yaml.safe_load(text)
    _only(doc, _CASE_KEYS, case.name)
    _only(doc["resource"], _RESOURCE_KEYS, "resource")
    _only(doc["resource"].get("policy") or {}, _POLICY_KEYS, "resource.policy")
    if doc.get("observed") is not None:
        _only(doc["observed"], _OBSERVED_KEYS, "observed")
    _only(doc["expect"], _EXPECT_KEYS, "expect")
    for f in doc["expect"].get("fields", []):
        _only(f, _FIELD_KEYS, "expect.fields[]")
    return doc


def _only(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    """A misspelt key would silently test nothing: refuse it."""
    unknown = set(mapping) - allowed
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"


def _resource(doc: dict[str, Any]) -> Resource:
    address = Address.parse(doc["address"])
    p = doc.get("policy") or {}
    policy = Policy(
        protect=p.get("protect", False),
        prune=p.get("prune", False),
        ignore_fields=tuple(p.get("ignoreFields", ())),
        mode=Mode(p.get("mode", Mode.ENFORCE.value)),
        creatable=p.get("creatable", kinds.info(address.kind).creatable),
    )
    return Resource(address=address, desired=doc["desired"], policy=policy)


def _observed(address: Address, doc: dict[str, Any] | None) -> Observed | None:
    if doc is None:
        return None
    return Observed(address=address, data=doc["data"], status=doc.get("status") or {}, owned=doc.get("owned", True))


def _field(f: FieldChange | dict[str, Any]) -> dict[str, Any]:
    if isinstance(f, FieldChange):
        return {"path": f.path, "old": f.old, "new": f.new, "immutable": f.immutable}
    return {"path": f["path"], "old": f.get("old"), "new": f.get("new"), "immutable": f.get("immutable", False)}


def _plan(case: Path) -> tuple[ResourceChange, dict[str, Any]]:
    doc = _load(case)
    resource = _resource(doc["resource"])
    assert resource.kind == case.parent.name, f"{case}: the folder names kind {case.parent.name}, not {resource.kind}"
    return planner.plan_one(resource, _observed(resource.address, doc.get("observed"))), doc["expect"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_case(case: Path) -> None:
    change, expect = _plan(case)
    assert change.action is Action(expect["action"]), change.reason
    if change.action is Action.NOOP:
        assert "noopReason" in expect, "a noop case says why nothing is done"
    assert change.noop_reason == (NoopReason(expect["noopReason"]) if "noopReason" in expect else None)
    actual = sorted((_field(f) for f in change.fields), key=lambda f: f["path"])
    wanted = sorted((_field(f) for f in expect.get("fields", [])), key=lambda f: f["path"])
    assert actual == wanted
    if "disruptive" in expect:
        assert expect["disruptive"] in change.disruptive
    else:
        assert change.disruptive == ""
    if "error" in expect:
        assert expect["error"] in change.error
    else:
        assert change.error == ""


def test_every_kind_has_its_cases() -> None:
    """Per kind: an in-sync no-op, an update, and a create (configure-only kinds: missing is an error).
    Inventory kinds (hosts as their manager sees them) are read, never planned: they have no cases."""
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders <= set(kinds.KINDS), f"folders that are not kinds: {sorted(folders - set(kinds.KINDS))}"
    missing: list[str] = []
    for kind, info in kinds.KINDS.items():
        if info.inventory:
            continue
        seen = set()
        for case in sorted((FIXTURES / kind).glob("*.yaml")):
            expect = _load(case)["expect"]
            seen.add((expect["action"], expect.get("noopReason")))
        needs: list[tuple[str, str | None]] = [("noop", "in-sync")]
        if kind not in CHECKED_ONLY:
            needs.append(("replace" if kind in NO_UPDATE else "update", None))
        needs.append(("create", None) if info.creatable else ("noop", "missing-unmanaged"))
        missing += [f"{kind}: {a} {r or ''}".strip() for a, r in needs if (a, r) not in seen]
    assert not missing, "\n".join(missing)
