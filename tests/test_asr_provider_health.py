"""The ASR Provider on a registered VMM server, in drift's health report: pure cases (disconnected, out of
support, expiring, deprecated, healthy), and end to end against the fake ARM server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed, Resource
from reconciler.engine import health
from tests.azure_env import PROVIDER_SUB, VAULT, VAULT_RG, register_vmm01
from tests.azure_fake import FakeAzure
from tests.helpers import copy_specs, out, run

VMM = Address("asr.vmm_server", "contoso-west", "VMM01.contoso.int")
HEALTHY = {
    "name": "VMM01.contoso.int",
    "version": "5.24.0902.2",
    "versionState": "Latest",
    "expiry": None,
    "expiresInDays": None,
    "lastHeartbeat": "2026-12-06T11:55:00Z",
    "connection": "Connected",
}


def _findings(**provider: Any) -> list[health.HealthFinding]:
    resource = Resource(VMM, {"server": VMM.name, "vault": VAULT}, site="contoso-west")
    seen = Observed(VMM, {"server": VMM.name, "vault": VAULT}, {"providers": [{**HEALTHY, **provider}]})
    return list(health.findings([resource], {VMM: seen}, [], {}))


@pytest.mark.parametrize(
    ("provider", "severity", "says"),
    [
        ({"connection": "NotConnected"}, "critical", "NotConnected (last heartbeat 2026-12-06T11:55:00Z)"),
        ({"versionState": "NotSupported"}, "critical", "version 5.24.0902.2 is out of support"),
        ({"expiry": "2026-11-30T00:00:00Z", "expiresInDays": -7}, "critical", "is out of support (expiry 2026-11"),
        ({"expiry": "2026-12-20T00:00:00Z", "expiresInDays": 13}, "warning", "expires in 13 days"),
        ({"versionState": "SecurityUpdateRequired"}, "warning", "version 5.24.0902.2: SecurityUpdateRequired"),
    ],
)
def test_a_provider_problem_is_a_finding(provider: dict[str, Any], severity: str, says: str) -> None:
    (finding,) = _findings(**provider)
    assert finding.check == "asr-provider" and finding.severity == severity
    assert says in finding.message and "update the Azure Site Recovery Provider" in finding.fix
    assert finding.value["version"] == "5.24.0902.2"


def test_a_healthy_provider_is_no_finding() -> None:
    assert _findings() == []
    assert _findings(expiry="2027-06-01T00:00:00Z", expiresInDays=177) == []


def test_drift_reports_a_disconnected_provider(azure: FakeAzure, tmp_path: Path) -> None:
    azure.add_vault(PROVIDER_SUB, VAULT_RG, VAULT, "westus", vmm_server=None)
    register_vmm01(azure, connection="NotConnected")
    drift = run("drift", copy_specs(tmp_path), "--format", "json")
    assert drift.exit_code == 2, out(drift)
    (finding,) = [h for h in json.loads(drift.stdout)["health"] if h["check"] == "asr-provider"]
    assert finding["address"] == str(VMM) and finding["severity"] == "critical"
    assert finding["value"]["connection"] == "NotConnected" and finding["value"]["version"] == "5.24.0902.2"
