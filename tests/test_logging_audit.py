"""Structured logs, the audit trail and redaction (docs/logging.md).

The canary test plants secret values in the environment (as ``AZURE_CLIENT_SECRET`` and
``RECONCILER_VMM_PASSWORD`` would hold them) and in the live estate (a BIOS attribute the plan changes, and
a secret-named attribute), runs plan --json, plan -o and apply through the CLI, and searches every output
for them. Everything runs in ``tmp_path``: the repository's ``.reconciler/`` is never written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cli.app import app
from reconciler.core.addresses import Address
from reconciler.core.redact import MASK, Redactor, looks_secret, secret_env_values
from reconciler.providers.embedded import seed
from reconciler.runs import audit, logs
from reconciler.spec import secrets as spec_secrets
from tests.helpers import EMBEDDED_ENV, ROOT, SPECS, WEEKDAY_NOON, isolate, pin_clock
from tests.helpers import run as _run

SHIPPED_ESTATE = ROOT / "reconciler" / "providers" / "embedded" / "estates" / "contoso-west.yaml"

CLIENT_SECRET = "canary-s3cr3t-123"
VMM_PASSWORD = "canary-pw-456"
BY_KEY = "canary-bykey-789"  # not in the environment: only its key name says it is a secret
CANARIES = (CLIENT_SECRET, VMM_PASSWORD, BY_KEY)
ENVIRONMENT_VARIABLES = (
    logs.ENV_FORMAT,
    logs.ENV_LEVEL,
    audit.ENV_AUDIT_LOG,
    seed.ENV_ESTATE_DB,
    *EMBEDDED_ENV,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=ENVIRONMENT_VARIABLES)


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every log line of ``text`` (other stderr lines are the CLI's own messages), parsed: each must be JSON."""
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert all(isinstance(e, dict) for e in events)
    return events


# --------------------------------------------------------------------------------------------- the redactor


def test_the_secret_key_pattern_is_shared_with_validate() -> None:
    assert spec_secrets.looks_secret is looks_secret
    for key in ("password", "adminPassword", "clientSecret", "token", "storageAccountKey", "api_key", "pwd"):
        assert looks_secret(key), key
    for key in ("name", "keyVault", "monkeys", "primary", "subnets"):
        assert not looks_secret(key), key


def test_known_secrets_are_the_values_of_secret_named_variables() -> None:
    environ = {
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
        "RECONCILER_VMM_PASSWORD": VMM_PASSWORD,
        "GITHUB_TOKEN": "ghp_abcdef",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
        "SHORT_TOKEN": "abc",  # under 4 characters: masking it would mangle every text
        "TOKENIZERS_PARALLELISM": "false",  # a flag, not a secret
        "PWD": "/work/main",  # the working directory
        "HOME": "/root",
        "AZURE_CLIENT_ID": "11111111-2222",
    }
    assert secret_env_values(environ) == {CLIENT_SECRET, VMM_PASSWORD, "ghp_abcdef", "wJalrXUtnFEMI"}


def test_redactor_masks_secret_keys_known_values_and_inline_credentials() -> None:
    redact = Redactor([CLIENT_SECRET, VMM_PASSWORD])
    value = {
        "name": "VM01",
        "adminPassword": "anything",
        "clientSecret": {"nested": "gone"},
        "token": None,  # nothing to hide
        "note": f"logged in with {VMM_PASSWORD} to vmm01",
        "items": [CLIENT_SECRET, {"deep": (f"x{CLIENT_SECRET}y", 3)}],
        "conn": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==;EndpointSuffix=core",
        "url": "https://admin:hunter22@vmm01.contoso.int/api?sv=1&sig=AbCdEf0123456789xyz",
        "fields": [{"path": "credentials.password", "old": "p1", "new": "p2"}, {"path": "startup", "old": 1, "new": 2}],
        CLIENT_SECRET: "a key that is a secret",
    }
    out = redact(value)
    assert out == {
        "name": "VM01",
        "adminPassword": MASK,
        "clientSecret": MASK,
        "token": None,
        "note": f"logged in with {MASK} to vmm01",
        "items": [MASK, {"deep": (f"x{MASK}y", 3)}],
        "conn": f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={MASK};EndpointSuffix=core",
        "url": f"https://admin:{MASK}@vmm01.contoso.int/api?sv=1&sig={MASK}",
        "fields": [{"path": "credentials.password", "old": MASK, "new": MASK}, {"path": "startup", "old": 1, "new": 2}],
        MASK: MASK,  # the key is a known secret, and read as a name ("s3cr3t" is "secret") it names one too
    }
    # Never mutates its input.
    assert value["adminPassword"] == "anything"
    assert value["items"] == [CLIENT_SECRET, {"deep": (f"x{CLIENT_SECRET}y", 3)}]


def test_objects_that_are_not_plain_data_are_redacted_as_text() -> None:
    address = Address("vmm.vm_network", "acmecorp", f"net-{CLIENT_SECRET}")
    plain = Redactor([CLIENT_SECRET], fallback=str)({"address": address, address: 1, "at": Path("/x")})
    assert plain == {
        "address": f"vmm.vm_network:acmecorp/net-{MASK}",
        f"vmm.vm_network:acmecorp/net-{MASK}": 1,
        "at": "/x",
    }
    kept = Redactor([CLIENT_SECRET])({"address": address})  # no fallback: returned as it is
    assert kept["address"] is address


def test_the_audit_hooks_pass_other_hooks_through_and_show_masked_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.core.changes import Action, Plan, ResourceChange
    from reconciler.engine import applier

    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv(audit.ENV_AUDIT_LOG, str(tmp_path / "audit.jsonl"))
    logs.configure("json", "error")
    seen: list[str] = []

    class Inner(applier.Hooks):
        def pre_apply(self, change: ResourceChange) -> None:
            seen.append(f"pre {change.address}")

        def post_apply(self, result: applier.StepResult) -> None:
            seen.append(f"post {result.message}")

    address = Address("vmm.cloud", "acmecorp", "AcmeCorp Cloud")
    change = ResourceChange(address, Action.CREATE, None, {"name": "AcmeCorp Cloud"})
    hooks = audit.ApplyAudit(Plan(changes=(change,), created_at="now", spec_digest="x")).hooks(Inner())
    hooks.pre_apply(change)
    hooks.post_apply(applier.StepResult(address, Action.CREATE, "failed", f"login {CLIENT_SECRET} refused"))
    assert seen == [f"pre {address}", f"post login {MASK} refused"]
    (step,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert step["event"] == "apply.step" and step["level"] == "error"  # the file ignores --log-level
    assert step["message"] == f"login {MASK} refused" and step["after"] == {"name": "AcmeCorp Cloud"}
    audit.close_audit()


def test_redactor_masks_the_longest_secret_and_leaves_clean_data_alone() -> None:
    redact = Redactor(["abcd", "abcdefgh", "xy"])  # "xy" is too short to be treated as a secret
    assert redact("key abcdefgh and abcd, xy") == f"key {MASK} and {MASK}, xy"
    clean = {"a": [1, 2.5, True, None], "b": ("text",), "c": {"d": "e"}}
    assert redact(clean) == clean
    assert Redactor([])("nothing known") == "nothing known"
    assert Redactor(["123456"])(123456) == MASK


# --------------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def canary_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Secrets in the environment, and planted in an embedded estate: HV01's BIOS ``SysProfile`` (a field the
    plan changes) holds the client secret, its ``AdminPassword`` attribute an unknown secret, and the vault
    a field holding the VMM password. Returns the initialised estate database."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("RECONCILER_VMM_PASSWORD", VMM_PASSWORD)
    estate = yaml.safe_load(SHIPPED_ESTATE.read_text(encoding="utf-8"))
    for obj in estate["objects"]:
        if obj["kind"] == "bmc.bios" and obj["name"] == "HV01.contoso.int":
            obj["data"]["attributes"]["SysProfile"] = CLIENT_SECRET
            obj["data"]["attributes"]["AdminPassword"] = BY_KEY
        if obj["kind"] == "asr.vault":
            obj["data"]["note"] = f"registered by svc-vmm with {VMM_PASSWORD}"
    source = tmp_path / "canary-estate.yaml"
    source.write_text(yaml.safe_dump(estate, sort_keys=False), encoding="utf-8")
    db = tmp_path / "estate.db"
    result = _run("estate", "init", "--from", source, "--estate", db)
    assert result.exit_code == 0, result.output
    return db


def _assert_clean(where: str, text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked into {where}"


def test_no_secret_in_any_output_plan_file_log_or_audit_event(
    canary_estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_file = tmp_path / "audit" / "audit.jsonl"  # the folder does not exist yet
    monkeypatch.setenv(audit.ENV_AUDIT_LOG, str(audit_file))
    # The canaries really are in what the estate returns: the plan must mask them, not miss them.
    shown = _run("estate", "show", "--format", "json", "--estate", canary_estate)
    assert all(canary in shown.stdout for canary in CANARIES)

    planned = _run("--log-format", "json", "plan", SPECS, "--json", "--estate", canary_estate)
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    hv01 = next(c for c in document["changes"] if c["address"] == "bmc.bios:contoso-west/HV01.contoso.int")
    assert hv01["before"]["attributes"]["SysProfile"] == MASK
    assert hv01["before"]["attributes"]["AdminPassword"] == MASK
    assert {"path": "attributes.SysProfile", "old": MASK, "new": "PerfOptimized", "immutable": False} in hv01["fields"]
    (plan_done,) = [e for e in _json_lines(planned.stderr) if e["event"] == "plan.done"]
    assert plan_done["level"] == "info" and plan_done["pending"] == len(
        [c for c in document["changes"] if c["action"] not in ("noop", "read")]
    )

    plan_file = tmp_path / "plans" / "plan.json"
    saved = _run("plan", SPECS, "-o", plan_file, "--estate", canary_estate)  # console logs, plan text
    assert saved.exit_code == 0, saved.output
    assert f"attributes.SysProfile: {MASK} → PerfOptimized" in saved.stdout

    applied = _run("--log-format", "json", "apply", plan_file, "--yes", "--allow-disruption", "--estate", canary_estate)
    assert applied.exit_code == 0, applied.output

    for name, text in (
        ("plan --json stdout", planned.stdout),
        ("plan --json stderr", planned.stderr),
        ("plan -o stdout", saved.stdout),
        ("plan -o stderr", saved.stderr),
        ("the plan file", plan_file.read_text(encoding="utf-8")),
        ("apply stdout", applied.stdout),
        ("apply stderr", applied.stderr),
        ("the audit file", audit_file.read_text(encoding="utf-8")),
    ):
        _assert_clean(name, text)

    # The audit file: apply.start, one apply.step per applied change, apply.end.
    events = [json.loads(line) for line in audit_file.read_text(encoding="utf-8").splitlines()]
    pending = {c["address"]: c for c in json.loads(plan_file.read_text(encoding="utf-8"))["changes"]}
    pending = {a: c for a, c in pending.items() if c["action"] not in ("noop", "read") and not c["error"]}
    assert [e["event"] for e in events] == ["apply.start", *["apply.step"] * len(pending), "apply.end"]
    run_ids = {e["run_id"] for e in events}
    assert len(run_ids) == 1
    steps = [e for e in events if e["event"] == "apply.step"]
    assert {s["address"] for s in steps} == set(pending)
    for step in steps:
        assert {"timestamp", "address", "kind", "action", "result", "duration_s", "attempts", "message"} <= set(step)
        assert {"before", "after", "fields"} <= set(step)
        assert step["result"] == "done", step
        assert step["action"] == pending[step["address"]]["action"]
        assert step["after"] == pending[step["address"]]["after"]
        assert isinstance(step["duration_s"], float) and step["attempts"] >= 1
    (bios,) = [s for s in steps if s["address"] == "bmc.bios:contoso-west/HV01.contoso.int"]
    assert bios["before"]["attributes"]["SysProfile"] == MASK
    assert {"path": "attributes.SysProfile", "old": MASK, "new": "PerfOptimized"} in bios["fields"]
    assert events[0]["pending"] == len(pending) and events[0]["plan_file"] == str(plan_file)
    assert events[-1]["ok"] is True and events[-1]["summary"] == {"done": len(pending)}

    # The same events on stderr as JSON lines.
    logged = _json_lines(applied.stderr)
    assert [e["event"] for e in logged] == [e["event"] for e in events]
    assert all({"timestamp", "level", "event"} <= set(e) for e in logged)

    # apply from the specs shows the whole plan first; the BIOS change is held (no --allow-disruption, and
    # on a weekday, outside the power profile's weekend maintenance window).
    pin_clock(monkeypatch, WEEKDAY_NOON)
    assert _run("estate", "init", "--from", tmp_path / "canary-estate.yaml", "--estate", canary_estate).exit_code == 0
    direct = _run("apply", SPECS, "--yes", "--target", "bmc.bios", "--estate", canary_estate)
    assert direct.exit_code == 0, direct.output
    assert f"attributes.SysProfile: {MASK} → PerfOptimized" in direct.stdout
    assert "result=held" not in direct.stderr  # the step line says it (stdout): the console log does not repeat it
    _assert_clean("apply (specs) stdout", direct.stdout)
    _assert_clean("apply (specs) stderr", direct.stderr)
    _assert_clean("the audit file", audit_file.read_text(encoding="utf-8"))


def test_console_logs_by_default_and_the_audit_file_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(audit.ENV_AUDIT_LOG, "-")
    db = tmp_path / "estate.db"
    quiet = _run("apply", SPECS, "--yes", "--estate", db, "--target", "vmm.logical_network")
    assert quiet.exit_code == 0, quiet.output
    # At the default level the console is not told twice what the UI already printed.
    assert "apply.start" not in quiet.stderr and "apply.step" not in quiet.stderr
    monkeypatch.setenv(logs.ENV_LEVEL, "debug")
    result = _run("apply", SPECS, "--yes", "--estate", db, "--target", "tenant/acmecorp")
    assert result.exit_code == 0, result.output
    assert "apply.start" in result.stderr and "apply.end" in result.stderr
    step_lines = [line for line in result.stderr.splitlines() if "apply.step" in line]
    assert step_lines and not any(line.startswith("{") for line in step_lines)
    assert not any("before=" in line for line in step_lines)  # the console leaves the data to the audit file
    assert not (tmp_path / ".reconciler" / "audit.jsonl").exists()


def test_default_audit_file_is_under_dot_reconciler_of_the_working_directory(tmp_path: Path) -> None:
    db = tmp_path / "estate.db"
    result = _run("apply", SPECS, "--yes", "--estate", db, "--target", "vmm.logical_network")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / ".reconciler" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "apply.start" and events[-1] == "apply.end" and "apply.step" in events


def test_log_level_and_format_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.ENV_FORMAT, "json")
    monkeypatch.setenv(logs.ENV_LEVEL, "warning")
    result = _run("plan", SPECS, "--json", "--estate", tmp_path / "estate.db")
    assert result.exit_code == 0, result.output
    assert _json_lines(result.stderr) == []  # plan.done is info
    monkeypatch.setenv(logs.ENV_LEVEL, "debug")
    result = _run("plan", SPECS, "--json", "--estate", tmp_path / "estate.db")
    assert [e["event"] for e in _json_lines(result.stderr)] == ["plan.done"]
    bad = _run("--log-format", "xml", "plan", SPECS)
    assert bad.exit_code == 64 and "--log-format" in bad.output


def test_other_libraries_log_records_are_redacted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)

    @app.command("_log-probe", hidden=True)
    def _probe() -> None:
        logging.getLogger("azure.core.pipeline").warning("token request with client secret %s", CLIENT_SECRET)

    try:
        result = _run("--log-format", "json", "_log-probe")
    finally:
        app.registered_commands.pop()
    assert result.exit_code == 0, result.output
    (event,) = _json_lines(result.stderr)
    assert event["logger"] == "azure.core.pipeline" and event["level"] == "warning"
    assert event["event"] == f"token request with client secret {MASK}"


def test_an_unwritable_audit_file_stops_apply_before_any_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(audit.ENV_AUDIT_LOG, str(blocker / "audit.jsonl"))
    db = tmp_path / "estate.db"
    result = _run("apply", SPECS, "--yes", "--estate", db, "--target", "vmm.logical_network")
    assert result.exit_code == 1
    assert "cannot write the audit log" in result.stderr
    again = _run("plan", SPECS, "--estate", db, "--target", "vmm.logical_network", "--detailed-exitcode")
    assert again.exit_code == 2  # nothing was applied


_PLANTED = "canary-s3cr3t-123"
_plain_keys = st.sampled_from(["name", "subnet", "vlan", "path", "old", "new", "password", "accountKey", "tags"])
_plain_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            _PLANTED,
            f"prefix-{_PLANTED}-suffix",
            "AccountKey=abc123;EndpointSuffix=core",
            "https://admin:hunter22@vmm01",
            "a=b",
            "user@example.com",
            "credentials.password",
            "spec.vms[0].name",
        ]
    ),
)
_plain_data = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _plain_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(_plain_keys, st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_plain_data)
def test_the_clean_fast_path_never_changes_what_is_masked(value: Any) -> None:
    """``Redactor.clean`` lets data through unchanged only when the full rules would not change it, and a
    redactor's answer is always the full rules' answer."""
    r = Redactor([_PLANTED])
    full = r._copy(value)
    assert r(value) == full
    if r.clean(value):
        assert full == value
        assert r(value) is value
