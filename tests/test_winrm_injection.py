"""Hostile names through every VMM kind, end to end: a site and a tenant whose every name holds quotes, ``;``,
``$()``, backticks and PowerShell's escape sequences, comment and here-string delimiters, a forged result marker
and non-ASCII text (control characters themselves the specs refuse) converge over WinRM (plan, apply, plan again:
no changes), and no value of the specs ever appears in any script text sent (the bootstrap on the command line,
the prelude and the body on stdin): every one travels only in the data argument."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import winrm_estate
from tests.helpers import EMBEDDED_ENV, init_estate, isolate, out, run
from tests.vmm_emulator import VmmEmulator
from tests.winrm_endpoint import WinRMEndpoint

H = {
    "network": 'it\'s "quoted"',
    "site": "a; Remove-Item C:\\ -Recurse",
    "pool": "$(Stop-Computer -Force)",
    "uplink": "`$env:PATH` and ``double``",
    "classification": "'; exit 1; '",
    "description": "line one `n line two; $(whoami) | Out-Null",
    "switch": "@' here-string '@",
    "default": "<#block comment#>",
    "cloud": "Réseau-東京 ✓ cloud",
    "group": "All Hosts/Wést ; $(x)",
    "vm_network": '--reconciler-result-0--{"output":[]}--end-reconciler-result-0--',
    "vm_subnet": "sub\"net `r`n '1' & calc",
    "vm": "VM $(whoami) `n",
}


def _documents() -> list[dict[str, Any]]:
    site = {
        "apiVersion": "reconciler/v1",
        "kind": "Site",
        "metadata": {"name": "contoso-west"},
        "spec": {
            "vmm": {"server": "VMM01.contoso.int"},
            "recoveryVault": {
                "subscriptionId": "00000000-0000-0000-0000-000000000001",
                "resourceGroup": "WAPRecoveryGroup",
                "name": "WAPRecoveryVault",
                "location": "westus",
            },
            "hostGroups": [H["group"]],
            "hosts": [{"name": "HV01.contoso.int", "platform": "hyperv", "hostGroup": H["group"]}],
            "logicalNetworks": [
                {
                    "name": H["network"],
                    "networkVirtualization": True,
                    "sites": [
                        {
                            "name": H["site"],
                            "hostGroups": [H["group"]],
                            "subnets": [{"subnet": "10.10.0.0/24", "vlan": 7}],
                            "ipPools": [
                                {
                                    "name": H["pool"],
                                    "subnet": "10.10.0.0/24",
                                    "range": {"start": "10.10.0.10", "end": "10.10.0.250"},
                                    "gateway": "10.10.0.1",
                                    "dnsServers": ["10.10.0.2"],
                                }
                            ],
                        }
                    ],
                }
            ],
            "uplinkPortProfiles": [{"name": H["uplink"], "sites": [H["site"]], "networkVirtualization": True}],
            "portClassifications": [{"name": H["classification"], "description": H["description"], "dhcpGuard": True}],
            "logicalSwitches": [
                {
                    "name": H["switch"],
                    "uplinkMode": "Team",
                    "uplinkPortProfiles": [H["uplink"]],
                    "portClassifications": [H["classification"]],
                    "hosts": ["HV01.contoso.int"],
                }
            ],
            "defaultVmNetwork": {"name": H["default"], "logicalNetwork": H["network"], "subnet": "192.168.254.0/24"},
        },
    }
    tenant = {
        "apiVersion": "reconciler/v1",
        "kind": "Tenant",
        "metadata": {"name": "acmecorp"},
        "spec": {
            "site": "contoso-west",
            "plan": {
                "name": "AcmeCorp Plan",
                "azure": {
                    "tenantId": "11111111-1111-1111-1111-111111111111",
                    "subscriptionId": "22222222-2222-2222-2222-222222222222",
                },
                "allowedRegions": ["westus"],
                "allowedVmSizes": ["Standard_D2s_v3"],
            },
            "cloud": {"name": H["cloud"], "hostGroups": [H["group"]], "logicalNetworks": [H["network"]]},
            "vmNetworks": [
                {
                    "name": H["vm_network"],
                    "logicalNetwork": H["network"],
                    "subnets": [{"name": H["vm_subnet"], "subnet": "192.168.10.0/24"}],
                }
            ],
            "vms": [{"name": H["vm"], "memory": {"dynamic": True, "startup": 2048, "minimum": 512, "maximum": 2048}}],
        },
    }
    return [site, tenant]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, WinRMEndpoint, VmmEmulator]]:
    vmm = VmmEmulator("VMM01.contoso.int", job_polls=0)
    vmm.add_host_group("All Hosts")
    vmm.add_host_group(H["group"].replace("/", "\\"))
    vmm.add_host("HV01.contoso.int", group=H["group"].replace("/", "\\"))
    vmm.add_cloud(H["cloud"], [H["group"].replace("/", "\\")])
    vmm.add_vm(H["vm"], cloud=H["cloud"], host="HV01.contoso.int", running=True, startup=512, minimum=512, maximum=2048)
    specs = tmp_path / "specs"
    specs.mkdir()
    for number, document in enumerate(_documents()):
        (specs / f"{number}.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    winrm_estate.resolve_to_localhost(monkeypatch)
    with winrm_estate.start(tmp_path / "winrm", vmm) as endpoint:
        for name, value in winrm_estate.environment(endpoint).items():
            monkeypatch.setenv(name, value)
        init_estate(tmp_path / "estate.db")
        yield specs, endpoint, vmm


def test_hostile_names_converge_and_travel_only_as_data(hostile: tuple[Path, WinRMEndpoint, VmmEmulator]) -> None:
    specs, endpoint, vmm = hostile
    planned = run("plan", specs)
    assert planned.exit_code == 0, out(planned)
    applied = run("apply", specs, "--yes", "--allow-disruption")
    assert applied.exit_code == 0, out(applied)
    again = run("plan", specs, "--detailed-exitcode")
    assert again.exit_code == 0, out(again)

    # The names reached VMM exactly as written, non-ASCII included.
    assert vmm.state.find("logicalNetwork", name=H["network"]) is not None
    classification = vmm.state.find("classification", name=H["classification"])
    assert classification is not None and classification["Description"].startswith(H["description"] + "\n[reconciler:")
    assert vmm.state.find("vmNetwork", name=H["vm_network"]) is not None
    assert vmm.vm(H["vm"])["wmi"]["VirtualQuantity"] == 2048

    values = winrm_estate.spec_values(specs)
    assert set(H.values()) - {H["group"], H["description"], H["vm_subnet"]} <= values
    sent_as_data = repr([call.data for call in endpoint.calls])
    assert winrm_estate.leaks(endpoint, values | set(H.values())) == []
    for value in H.values():
        wanted = value.replace("/", "\\") if value == H["group"] else value
        assert repr(wanted)[1:-1] in sent_as_data, f"{value!r} never went out as data"
