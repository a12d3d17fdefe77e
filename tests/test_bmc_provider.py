"""The BMC provider (reconciler.providers.bmc.provider) through the CLI, against sushy-tools' Redfish emulator
with the Dell iDRAC BIOS model (tests/redfish_server.py), while the hosts' maintenance mode stays on the embedded
estate (Hyper-V hosts through VMM): one plan mixes both backends, per host.

Covered: a value the BMC's attribute registry refuses never takes a host out of service (the message names the
attribute and the valid values); a BIOS job that fails after the reset stops the rollout with the BMC's message and
the host left in maintenance; a vendor the spec gets wrong is refused when the BMC is read; the handler table; and
a connection that failed temporarily is opened again on the retry."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import kinds as core_kinds
from reconciler.core.addresses import Address
from reconciler.core.errors import TemporaryError
from reconciler.providers import hosts
from reconciler.providers.base import HandlerTable
from reconciler.providers.bmc.connections import Bmcs
from reconciler.providers.bmc.context import BmcContext, BmcRef
from reconciler.providers.bmc.model import BiosState, BmcBackend, SystemInfo
from reconciler.providers.bmc.provider import KINDS, BmcProvider
from reconciler.providers.bmc.settings import BmcSettings
from reconciler.providers.embedded.store import EstateStore
from tests.helpers import EMBEDDED_ENV, copy_specs, edit_text, init_estate, isolate, out, run
from tests.redfish_server import Bmc, BmcFactory

HOST = "HV01.contoso.int"
BIOS = f"bmc.bios:contoso-west/{HOST}"


def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bmc: Bmc, *, vendor: str = "dell", bios: str = "") -> Path:
    """The example specs with HV01's BIOS on ``bmc`` (the only host the power profile selects), the BMC on."""
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    for name, value in {
        "RECONCILER_BMC": "on",
        "RECONCILER_BMC_USER": bmc.user,
        "RECONCILER_BMC_PASSWORD": bmc.password,
        "RECONCILER_BMC_CA_BUNDLE": str(bmc.ca_path),
    }.items():
        monkeypatch.setenv(name, value)
    init_estate(tmp_path / "estate.db")
    specs = copy_specs(tmp_path)
    site = specs / "sites" / "contoso-west.yaml"
    edit_text(
        site, "bmc: {address: https://10.0.0.21, vendor: dell}", f'bmc: {{address: "{bmc.url}", vendor: {vendor}}}'
    )
    for n in (22, 23):
        edit_text(site, f"\n      bmc: {{address: https://10.0.0.{n}, vendor: dell}}", "")
    power = specs / "profiles" / "power.yaml"
    edit_text(power, "hosts: [HV01.contoso.int, HV02.contoso.int, HV03.contoso.int]", f"hosts: [{HOST}]")
    if bios:
        edit_text(power, "bios: {profile: MaximumPerformance}", f"bios: {bios}")
    return specs


def in_maintenance(estate: Path) -> bool:
    store = EstateStore(estate)
    try:
        row = store.get(Address("host.state", "contoso-west", HOST))
        assert row is not None
        return bool(row.status.get("maintenance"))
    finally:
        store.close()


def apply_bios(specs: Path) -> tuple[int, str]:
    result = run("apply", specs, "--yes", "--allow-disruption", "--target", BIOS)
    return result.exit_code, out(result)


def test_each_bmc_kind_has_exactly_one_handler() -> None:
    with BmcProvider(BmcSettings(), BmcContext()) as provider:
        served = Counter(kind for handler in provider.table.handlers for kind in handler.kinds)
        assert served == Counter(provider.kinds) and provider.table.kinds == KINDS
        assert provider.kinds <= set(core_kinds.KINDS)
        with pytest.raises(ValueError, match=r"bmc\.bios has two handlers"):
            HandlerTable("bmc", [*provider.table.handlers, copy.copy(provider.table["bmc.bios"])])
        assert isinstance(provider, hosts.Firmware) and not isinstance(provider, hosts.HostManager)


def test_a_value_the_registry_refuses_never_takes_the_host_out(
    redfish_bmcs: BmcFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bmc = redfish_bmcs.start(vendor="dell", name=HOST)
    # LogicalProc is no attribute the spec layer knows values for: only the BMC's own registry can refuse it.
    specs = lab(tmp_path, monkeypatch, bmc, bios="{attributes: {LogicalProc: Sometimes}}")
    code, text = apply_bios(specs)
    assert code == 1, text
    assert "LogicalProc='Sometimes' is not valid (valid: Enabled, Disabled)" in text
    assert not in_maintenance(tmp_path / "estate.db")  # checked before maintenance: nothing to unwind
    assert bmc.get("/redfish/v1/Systems/System.Embedded.1/Bios/Settings")["Attributes"] == {}


def test_a_failed_bios_job_stops_the_rollout_with_the_bmcs_message(
    redfish_bmcs: BmcFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bmc = redfish_bmcs.start(vendor="dell", name=HOST, fail_jobs=True)
    specs = lab(tmp_path, monkeypatch, bmc)
    code, text = apply_bios(specs)
    assert code == 1, text
    assert "BIOS job JID_" in text and "SYS051: Unable to apply the BIOS settings" in text
    assert f"{HOST} stays in maintenance" in text
    assert in_maintenance(tmp_path / "estate.db")  # never out of maintenance before the restart is confirmed
    bios = bmc.get("/redfish/v1/Systems/System.Embedded.1/Bios")["Attributes"]
    assert bios["SysProfile"] == "PerfPerWattOptimizedDapc"


def test_hpe_through_its_own_registry_and_without_a_job(
    redfish_bmcs: BmcFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bmc = redfish_bmcs.start(vendor="hpe", name=HOST, boot_polls=2)
    specs = lab(tmp_path, monkeypatch, bmc, vendor="hpe")
    code, text = apply_bios(specs)
    assert code == 0, text
    assert bmc.get("/redfish/v1/Systems/1/Bios")["Attributes"]["PowerRegulator"] == "StaticHighPerf"
    assert not in_maintenance(tmp_path / "estate.db")
    again = run("plan", specs, "--target", BIOS, "--detailed-exitcode")
    assert again.exit_code == 0, out(again)


def test_a_vendor_the_spec_gets_wrong_is_refused(
    redfish_bmcs: BmcFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bmc = redfish_bmcs.start(vendor="dell", name=HOST)
    specs = lab(tmp_path, monkeypatch, bmc, vendor="hpe")
    result = run("plan", specs, "--target", BIOS)
    assert result.exit_code == 1
    assert "the spec says its BMC is vendor hpe, but the server's manufacturer is 'Dell Inc.'" in out(result)
    assert "fix hosts[].bmc.vendor" in out(result)


class _Flaky:
    """A BMC backend whose first read fails as a dropped connection does."""

    name = HOST

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def system(self) -> SystemInfo:
        return SystemInfo("1", HOST, "Dell Inc.", "PowerEdge R740", "On")

    def read_bios(self) -> BiosState:
        if "failed" not in self.log:
            self.log.append("failed")
            raise TemporaryError("BMC of HV01: reading the BIOS: ConnectionResetError")
        return BiosState({"SysProfile": "PerfOptimized"}, {})

    def close(self) -> None:
        self.log.append("closed")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_a_connection_that_failed_temporarily_is_opened_again() -> None:
    log: list[str] = []

    def opener(_settings: BmcSettings, _ref: BmcRef) -> BmcBackend:
        log.append("opened")
        return _Flaky(log)

    bmcs = Bmcs(BmcSettings(), opener=opener)
    ref = BmcRef("contoso-west", HOST, "https://10.0.0.21", "dell")
    with pytest.raises(TemporaryError):
        bmcs.call(ref, lambda bmc: bmc.read_bios())
    assert bmcs.call(ref, lambda bmc: bmc.read_bios()).attributes == {"SysProfile": "PerfOptimized"}
    assert log == ["opened", "failed", "closed", "opened"]
    bmcs.close()
    assert log[-1] == "closed"
