"""Fixture cases for the WinRM provider's writes: a planned change in, the scripts it runs out, each with the
machine it runs on and its data argument exactly, so a payload regression is a fixture diff.

One YAML file per case under ``tests/fixtures/winrm/apply/<kind>/``, starting with a one-line comment saying what
the case shows in operator terms::

    resource: {address: "vmm.ip_pool:contoso-west/PA-Pool", desired: {...}, policy: {prune: true}}
    change: {action: update, reason: resume, fields: [{path: startup, old: 512, new: 2048}]}
        # or  call: enter_maintenance   (a HostManager primitive instead of apply)
    ledger: {"vmm://vmm01.contoso.int/vmm.network_site/site-1": {prune: false, protect: false}}   # optional
    runs:                            # in order; every script the change runs, and what each prints
      - {host: VMM01.contoso.int, script: vmm_networks, data: {...}, output: [...]}
      - {host: HV01.contoso.int, script: hyperv_memory, data: {...}, error: {category: ObjectNotFound, message: ...}}
    expect:
      data: {...}                    # the object apply returns (null: deleted; absent for a call)
      owned: true                    # optional
      error: "13661"                 # instead: apply fails with a message holding this
      progress: [...]                # optional: lines that must be reported
      ledger: {recorded: [...], forgotten: [...]}   # optional: ownership records written or dropped

The provider runs against the example specs' context (VMM01 serves contoso-west and its tenants), with a runner
that checks each script against the next expected run and answers with its output."""

from __future__ import annotations

import json
import secrets
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, FieldChange, ResourceChange
from reconciler.core.errors import ReconcilerError
from reconciler.core.resources import Policy, Resource
from reconciler.providers.ledger import MemoryLedger
from reconciler.providers.winrm.context import WinRMContext
from reconciler.providers.winrm.contract import ErrorRecord, ScriptResult
from reconciler.providers.winrm.errors import ScriptError
from reconciler.providers.winrm.provider import KINDS, WinRMProvider
from reconciler.providers.winrm.settings import EndpointSettings, WinRMSettings
from reconciler.spec.loader import load_paths
from reconciler.store import ownership

FIXTURES = Path(__file__).parent / "fixtures" / "winrm" / "apply"
CASES = sorted(FIXTURES.glob("*/*.yaml"))
SPECS = Path(__file__).resolve().parent.parent / "specs"
_REASONS = {"create": "create", "update": "update", "replace": "replace", "delete": "prune", "adopt": "adopt"}


@cache
def _context() -> WinRMContext:
    loaded = load_paths([SPECS])
    assert loaded.ok
    return WinRMContext.from_specs(loaded.specs)


class ScriptedRunner:
    """The transport, scripted: each run must be the next expected one; it answers with that run's output."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        self.expected = list(runs)
        self.done = 0

    def run(self, endpoint: EndpointSettings, script: str, data: Any = None) -> ScriptResult:
        sent = {"host": endpoint.host, "script": script, "data": json.loads(json.dumps(data))}
        assert self.expected, f"an unexpected run after the last expected one: {sent}"
        wanted = self.expected.pop(0)
        assert sent == {k: wanted.get(k) for k in ("host", "script", "data")}, f"run {self.done + 1}"
        self.done += 1
        if "error" in wanted:
            record = ErrorRecord.from_json({"cmdlet": "Write-Error", **wanted["error"]})
            raise ScriptError(
                f"{endpoint.host}: {script}: {record.message}", record=record, endpoint=endpoint.host, script=script
            )
        return ScriptResult(output=tuple(wanted.get("output") or ()))

    def close(self) -> None:
        pass


def _resource(doc: dict[str, Any]) -> Resource:
    address = Address.parse(doc["address"])
    tenant = _context().tenants.get(address.scope)
    policy = doc.get("policy") or {}
    return Resource(
        address,
        dict(doc.get("desired") or {}),
        site=tenant.site if tenant else address.scope,
        tenant=tenant.name if tenant else None,
        policy=Policy(
            prune=bool(policy.get("prune")),
            protect=bool(policy.get("protect")),
            creatable=address.kind != "hyperv.vm_memory",
        ),
    )


def _change(resource: Resource, doc: dict[str, Any]) -> ResourceChange:
    action = Action(doc["action"])
    fields = tuple(FieldChange(f["path"], f.get("old"), f.get("new")) for f in doc.get("fields") or [])
    return ResourceChange(
        address=resource.address,
        action=action,
        before=None,
        after=None if action is Action.DELETE else dict(resource.desired),
        fields=fields,
        action_reason=ActionReason(doc.get("reason") or _REASONS[action.value]),
        reason="a fixture",
    )


def _provider(runner: ScriptedRunner) -> WinRMProvider:
    env = {
        "RECONCILER_WINRM": "on",
        "RECONCILER_WINRM_USER": "svc",
        "RECONCILER_WINRM_PASSWORD": secrets.token_urlsafe(),
    }
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    return WinRMProvider(settings, _context(), runner=runner, sleep=lambda _s: None)


def _load(case: Path) -> dict[str, Any]:
    text = case.read_text()
    assert text.startswith("# ") and len(text.splitlines()[0]) > 2, f"{case.name}: start with a one-line comment"
    doc: dict[str, Any] = yaml.safe_load(text)
    allowed = {"resource", "change", "call", "ledger", "runs", "expect"}
    assert not set(doc) - allowed, f"{case.name}: unknown keys {sorted(set(doc) - allowed)}"
    assert ("change" in doc) != ("call" in doc), f"{case.name}: a change or a call"
    assert Address.parse(doc["resource"]["address"]).kind == case.parent.name, f"{case.name}: in its kind's folder"
    return doc


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_case(case: Path) -> None:
    doc = _load(case)
    runner = ScriptedRunner(doc["runs"])
    provider = _provider(runner)
    ledger = provider.ledger
    assert isinstance(ledger, MemoryLedger)
    for key, mark in (doc.get("ledger") or {}).items():
        ledger.record(key, ownership.Marker("earlier", bool(mark.get("prune")), bool(mark.get("protect"))))
    before = dict(ledger.markers)
    resource, expect = _resource(doc["resource"]), doc["expect"]
    progress: list[str] = []
    try:
        if "call" in doc:
            getattr(provider, doc["call"])(resource, progress.append)
            got = None
        else:
            got = provider.apply(_change(resource, doc["change"]), resource, progress.append)
    except ReconcilerError as exc:
        assert "error" in expect, f"failed: {exc}"
        assert str(expect["error"]) in str(exc)
    else:
        assert "error" not in expect, "expected a failure"
        if "data" in expect:
            assert (got.data if got is not None else None) == expect["data"]
        if "owned" in expect:
            assert got is not None and got.owned is expect["owned"]
    assert not runner.expected, f"{len(runner.expected)} expected runs did not happen, first: {runner.expected[0]}"
    for line in expect.get("progress") or []:
        assert any(line in p for p in progress), f"no progress line with {line!r} in {progress}"
    changed = expect.get("ledger") or {}
    assert sorted(k for k in ledger.markers if ledger.markers[k] != before.get(k)) == sorted(
        changed.get("recorded") or []
    )
    assert sorted(k for k in before if k not in ledger.markers) == sorted(changed.get("forgotten") or [])


def test_every_writable_kind_has_a_case() -> None:
    covered = {c.parent.name for c in CASES}
    assert covered == KINDS, f"kinds without an apply case: {sorted(KINDS - covered)}"
