"""A BIOS rollout routed per resource: each Hyper-V host's maintenance goes through VMM over WinRM (the provider
is the host procedure's HostManager), its BIOS is staged and reset by the embedded estate (the BMC backend). The
engine's procedure holds them together: one host at a time, its running VMs live-migrated off before the reset,
back out of maintenance only once the BMC shows the new settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.resources import Resource
from reconciler.providers.embedded.provider import EmbeddedProvider
from reconciler.providers.registry import open_backends
from reconciler.providers.winrm.provider import WinRMProvider
from reconciler.spec.loader import load_paths
from tests import winrm_estate
from tests.helpers import EMBEDDED_ENV, SPECS, estate_snapshot, init_estate, isolate, out, run
from tests.vmm_emulator import VmmEmulator
from tests.winrm_endpoint import WinRMEndpoint

HOSTS = ("HV01.contoso.int", "HV02.contoso.int", "HV03.contoso.int")


@pytest.fixture
def vmm() -> VmmEmulator:
    return VmmEmulator.contoso_west()


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vmm: VmmEmulator) -> Iterator[WinRMEndpoint]:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    winrm_estate.resolve_to_localhost(monkeypatch)
    with winrm_estate.start(tmp_path / "winrm", vmm) as server:
        for name, value in winrm_estate.environment(server).items():
            monkeypatch.setenv(name, value)
        init_estate(tmp_path / "estate.db")
        yield server


def test_hosts_route_to_winrm_and_their_bios_to_the_embedded_estate(endpoint: WinRMEndpoint, tmp_path: Path) -> None:
    loaded = load_paths([SPECS])
    assert loaded.ok
    backends = open_backends(tmp_path / "estate.db", specs=loaded.specs)
    try:
        for host in HOSTS:
            state = backends.router.provider(Resource(Address("host.state", "contoso-west", host), {}))
            bios = backends.router.provider(Resource(Address("bmc.bios", "contoso-west", host), {}))
            assert isinstance(state, WinRMProvider) and isinstance(bios, EmbeddedProvider)
        # Hosts the specs do not call Hyper-V (here: one they do not name) stay with the embedded estate.
        other = backends.router.provider(Resource(Address("host.state", "contoso-west", "ESX01.contoso.int"), {}))
        assert isinstance(other, EmbeddedProvider)
        assert "host.state (hosts with platform hyperv)" in backends.served_by()["winrm"]
    finally:
        backends.close()


def test_a_bios_rollout_takes_each_host_through_vmm_maintenance_one_at_a_time(
    endpoint: WinRMEndpoint, vmm: VmmEmulator, tmp_path: Path
) -> None:
    result = run("apply", SPECS, "--yes", "--allow-disruption", "--target", "bmc.bios")
    text = out(result)
    assert result.exit_code == 0, text
    assert "Apply complete: 3 done, 0 failed" in text
    # One host at a time: each entered maintenance and left it before the next one entered.
    assert len(vmm.maintenance) == 6
    for number in range(3):
        entered, left = vmm.maintenance[2 * number], vmm.maintenance[2 * number + 1]
        assert entered[1] is True and left == (entered[0], False)
    assert {host for host, _ in vmm.maintenance} == set(HOSTS)
    # The running VMs left each host by live migration before it went down, and still run.
    assert ("VM01", "HV01.contoso.int", "HV02.contoso.int") in vmm.migrations
    assert {vm for vm, source, _ in vmm.migrations if source == "HV03.contoso.int"} == set()  # FAB-SQL01 is off
    assert all(vm["VirtualMachineState"] == "Running" for vm in vmm.state.all("vm") if vm["Name"] != "FAB-SQL01")
    assert "put HV01.contoso.int in maintenance mode: VMM job Start maintenance mode on HV01.contoso.int" in text
    # The BIOS settings are in, on the embedded BMCs; the embedded estate's own host rows were never touched.
    objects = estate_snapshot(tmp_path / "estate.db")["objects"]
    for host in HOSTS:
        bios = next(o for o in objects if o["kind"] == "bmc.bios" and o["name"] == host)
        assert bios["data"]["attributes"]["SysProfile"] == "PerfOptimized" and not bios.get("status", {}).get("pending")
        row = next(o for o in objects if o["kind"] == "host.state" and o["name"] == host)
        assert row.get("status") == {"powerState": "Running", "maintenance": False}
    assert run("plan", SPECS, "--detailed-exitcode", "--target", "bmc.bios").exit_code == 0
