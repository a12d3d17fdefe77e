"""The BMC client layer (reconciler.providers.bmc) with DMTF's redfish library against sushy-tools' emulator,
extended with Dell iDRAC and HPE iLO BIOS models (tests/redfish_emulator.py): TLS validated against the test
CA, a login generated per BMC, a Redfish session, BIOS jobs that run at the reset."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.errors import PermanentError, PreconditionError, TemporaryError
from reconciler.providers.bmc import bios
from reconciler.providers.bmc.model import JobState
from reconciler.providers.bmc.redfish_backend import RedfishBmc
from reconciler.providers.bmc.settings import BmcSettings
from reconciler.spec.models.power import BiosProfile
from reconciler.spec.models.site import Vendor
from tests.redfish_server import Bmc, BmcFactory

NO_WAIT = bios.Waiting(sleep=lambda _s: None, clock=lambda: 0.0)


def settings_for(bmc: Bmc, **overrides: str) -> BmcSettings:
    env = {
        "RECONCILER_BMC": "on",
        "RECONCILER_BMC_USER": bmc.user,
        "RECONCILER_BMC_PASSWORD": bmc.password,
        "RECONCILER_BMC_CA_BUNDLE": str(bmc.ca_path),
        **overrides,
    }
    settings = BmcSettings.from_env(env)
    assert settings is not None
    return settings


def connect(bmc: Bmc, **overrides: str) -> RedfishBmc:
    settings = settings_for(bmc, **overrides)
    return RedfishBmc(settings, settings.target(host=bmc.name, address=bmc.url, vendor=bmc.vendor))


@pytest.fixture
def dell(redfish_bmc: Bmc) -> Iterator[RedfishBmc]:
    client = connect(redfish_bmc)
    yield client
    client.close()


def test_bios_and_registry_are_read(dell: RedfishBmc) -> None:
    state = dell.read_bios()
    assert state.attributes["SysProfile"] == "PerfPerWattOptimizedDapc"
    assert state.pending == {}
    registry = dell.registry()
    assert registry.id == state.registry_id == "BiosAttributeRegistry.v1_0_3"
    assert set(registry.attributes["SysProfile"].values) == {
        "PerfPerWattOptimizedDapc",
        "PerfPerWattOptimizedOs",
        "PerfOptimized",
        "DenseCfgOptimized",
        "Custom",
    }
    assert registry.attributes["SystemModelName"].read_only
    system = dell.system()
    assert (system.id, system.manufacturer, system.power_state) == ("System.Embedded.1", "Dell Inc.", "On")


def test_staged_settings_stay_pending_until_the_reset_applies_them(redfish_bmc: Bmc, dell: RedfishBmc) -> None:
    wanted = bios.desired_attributes(Vendor.DELL, profile=BiosProfile.MAXIMUM_PERFORMANCE)
    assert wanted == {"SysProfile": "PerfOptimized"}
    staged = bios.stage_changes(dell, wanted)
    assert staged is not None and staged.job_id is not None and staged.job_id.startswith("JID_")

    state = dell.read_bios()
    assert state.attributes["SysProfile"] == "PerfPerWattOptimizedDapc", "nothing changes before the reset"
    assert state.pending == {"SysProfile": "PerfOptimized"}
    assert dell.job(staged.job_id).state is JobState.SCHEDULED
    again = bios.stage_changes(dell, wanted)
    assert again is not None and again.job_id == staged.job_id, "already pending: the same job, nothing sent"

    dell.reset()
    seen: list[bios.ApplyProgress] = []
    bios.wait_applied(dell, staged, timeout_s=60, on_progress=seen.append, waiting=NO_WAIT)
    assert [p.job_state for p in seen if p.phase == "job"] == [JobState.RUNNING, JobState.COMPLETED]
    assert seen[-1].message == "applied"
    after = dell.read_bios()
    assert after.attributes["SysProfile"] == "PerfOptimized" and after.pending == {}
    assert redfish_bmc.get(f"/redfish/v1/Systems/{redfish_bmc.system_id}")["PowerState"] == "On"
    assert bios.stage_changes(dell, wanted) is None, "in force: nothing to stage"


def test_an_invalid_value_is_refused_with_the_valid_ones(dell: RedfishBmc) -> None:
    with pytest.raises(PermanentError) as caught:
        bios.stage_changes(dell, {"SysProfile": "Turbo"})
    message = str(caught.value)
    assert caught.value.code == "InvalidBiosValue"
    assert "SysProfile='Turbo' is not valid (valid: " in message and "PerfOptimized" in message
    assert dell.read_bios().pending == {}, "nothing was sent"


def test_the_bmc_itself_refuses_an_unknown_attribute_with_its_message(dell: RedfishBmc) -> None:
    with pytest.raises(PermanentError, match=r"HTTP 400: The property NoSuchSetting is not in the list of valid"):
        dell.stage({"NoSuchSetting": "Enabled"})  # straight to the BMC, past the client-side check


def test_other_pending_settings_are_a_precondition_and_can_be_discarded(dell: RedfishBmc) -> None:
    dell.stage({"SysProfile": "PerfPerWattOptimizedOs"})
    with pytest.raises(
        PreconditionError, match=r"other BIOS settings are already pending \(SysProfile=PerfPerWattOptimizedOs\)"
    ):
        bios.stage_changes(dell, {"SysProfile": "PerfOptimized"})
    dell.discard_pending()
    assert dell.read_bios().pending == {}
    assert bios.stage_changes(dell, {"SysProfile": "PerfOptimized"}) is not None


def test_a_failed_job_is_a_clear_error(redfish_bmcs: BmcFactory) -> None:
    bmc = redfish_bmcs.start(vendor="dell", fail_jobs=True, boot_polls=0)
    client = connect(bmc)
    try:
        staged = bios.stage_changes(client, {"SysProfile": "PerfOptimized"})
        assert staged is not None
        client.reset()
        with pytest.raises(PermanentError, match=r"BIOS job JID_\d+ failed: SYS051: Unable to apply"):
            bios.wait_applied(client, staged, timeout_s=60, waiting=NO_WAIT)
        assert client.read_bios().attributes["SysProfile"] == "PerfPerWattOptimizedDapc"
    finally:
        client.close()


def test_waiting_without_a_reset_times_out_as_temporary(dell: RedfishBmc) -> None:
    staged = bios.stage_changes(dell, {"SysProfile": "PerfOptimized"})
    assert staged is not None
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waiting = bios.Waiting(sleep=sleep, clock=lambda: now[0], poll_s=30)
    with pytest.raises(TemporaryError, match=r"SysProfile=PerfOptimized not applied after 100 s"):
        bios.wait_applied(dell, staged, timeout_s=100, waiting=waiting)
    assert now[0] == 100


def test_hpe_applies_pending_settings_at_boot_without_a_job(redfish_bmcs: BmcFactory) -> None:
    bmc = redfish_bmcs.start(vendor="hpe")
    client = connect(bmc)
    try:
        registry = client.registry()  # found through /redfish/v1/Registries, as on iLO
        assert "Virtualization-MaxPerformance" in registry.attributes["WorkloadProfile"].values
        wanted = bios.desired_attributes(
            Vendor.HPE,
            profile=BiosProfile.MAXIMUM_PERFORMANCE,
            attributes={"WorkloadProfile": "Virtualization-MaxPerformance"},
        )
        staged = bios.stage_changes(client, wanted, registry=registry)
        assert staged is not None and staged.job_id is None
        assert client.read_bios().pending == wanted
        client.reset()
        bios.wait_applied(client, staged, timeout_s=60, waiting=NO_WAIT)
        current = client.read_bios().attributes
        assert (current["PowerRegulator"], current["WorkloadProfile"]) == (
            "StaticHighPerf",
            "Virtualization-MaxPerformance",
        )
    finally:
        client.close()


def test_a_session_is_opened_and_closed(redfish_bmc: Bmc) -> None:
    client = connect(redfish_bmc)
    assert redfish_bmc.get("/redfish/v1/SessionService/Sessions")["Members@odata.count"] == 1
    client.close()
    assert redfish_bmc.get("/redfish/v1/SessionService/Sessions")["Members@odata.count"] == 0


def test_basic_auth_when_asked(redfish_bmc: Bmc) -> None:
    client = connect(redfish_bmc, RECONCILER_BMC_AUTH="basic")
    try:
        assert client.read_bios().attributes["SysProfile"]
        assert redfish_bmc.get("/redfish/v1/SessionService/Sessions")["Members@odata.count"] == 0
    finally:
        client.close()


@pytest.mark.parametrize("auth", ["session", "basic"])
def test_bad_credentials_are_one_clear_error(redfish_bmc: Bmc, auth: str) -> None:
    wrong = secrets.token_urlsafe(12)
    with pytest.raises(PermanentError) as caught:
        connect(redfish_bmc, RECONCILER_BMC_PASSWORD=wrong, RECONCILER_BMC_AUTH=auth)
    message = str(caught.value)
    assert caught.value.code == "InvalidCredentials"
    assert message.startswith(f"BMC of {redfish_bmc.name} ({redfish_bmc.url}): the login was refused")
    assert wrong not in message and redfish_bmc.password not in message


def test_an_untrusted_certificate_is_refused(redfish_bmc: Bmc, tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as caught:
        connect(redfish_bmc, RECONCILER_BMC_CA_BUNDLE="")
    assert caught.value.code == "CertificateNotTrusted"
    assert "RECONCILER_BMC_CA_BUNDLE" in str(caught.value)
