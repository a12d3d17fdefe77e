"""The vSphere provider (reconciler.providers.vsphere.provider) against vcsim, with real pyVmomi: the handler
table, bulk reads counted in SOAP calls (one round trip per kind and vCenter, plus one QueryPerf for the CPU ready
window), the power policy written and read back, maintenance mode as the host procedure drives it, and what a host
that vCenter does not have reads as. Also, without vCenter: entering maintenance that vCenter cannot finish in time
is a permanent error (a retry would wait as long again), and a vSphere run without a login fails when it opens."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pyVmomi import vim

from reconciler.core import kinds as core_kinds
from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ResourceChange
from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.core.resources import Resource
from reconciler.providers import hosts
from reconciler.providers.base import HandlerTable
from reconciler.providers.vsphere import hosts as host_ops
from reconciler.providers.vsphere.context import VCenterRef, VSphereContext
from reconciler.providers.vsphere.inventory import ConnectionState, HostInfo, PowerState
from reconciler.providers.vsphere.provider import KINDS, VSphereProvider
from reconciler.providers.vsphere.session import Session
from reconciler.providers.vsphere.settings import Endpoint, VSphereSettings
from tests.helpers import copy_specs, edit_text, isolate, out, run
from tests.vcsim_server import Vcsim

VCENTER = "vcenter.lab.example"
SITE = "lab"


def settings_for(vcsim: Vcsim) -> VSphereSettings:
    settings = VSphereSettings.from_env(
        {
            "RECONCILER_VSPHERE": "on",
            "RECONCILER_VSPHERE_USER": vcsim.user,
            "RECONCILER_VSPHERE_PASSWORD": vcsim.password,
            "RECONCILER_VSPHERE_CA_BUNDLE": str(vcsim.ca_path),
            "RECONCILER_VSPHERE_SERVERS": f"{VCENTER}=127.0.0.1:{vcsim.port}",
            "RECONCILER_VSPHERE_READY_SAMPLES": "3",
        }
    )
    assert settings is not None
    return settings


@pytest.fixture
def provider(vcsim: Vcsim) -> Iterator[VSphereProvider]:
    context = VSphereContext(vcenters={SITE: VCenterRef(SITE, VCENTER)})
    with VSphereProvider(settings_for(vcsim), context) as opened:
        yield opened


def resource(kind: str, host: str, **desired: Any) -> Resource:
    return Resource(Address(kind, SITE, host), dict(desired), site=SITE)


@pytest.fixture
def soap_calls(provider: VSphereProvider, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The SOAP methods the provider's session sends while the test watches."""
    calls: Counter[str] = Counter()
    stub = provider.vcenters.sessions.get(VCENTER).service_instance._stub
    original = stub.InvokeMethod

    def invoke(mo: Any, info: Any, args: Any) -> Any:
        calls[info.wsdlName] += 1
        return original(mo, info, args)

    monkeypatch.setattr(stub, "InvokeMethod", invoke)
    return calls


def test_each_vsphere_kind_has_exactly_one_handler(vcsim: Vcsim) -> None:
    with VSphereProvider(settings_for(vcsim), VSphereContext()) as provider:
        served = Counter(kind for handler in provider.table.handlers for kind in handler.kinds)
        assert served == Counter(provider.kinds) and provider.table.kinds == KINDS
        assert provider.kinds <= set(core_kinds.KINDS)
        with pytest.raises(ValueError, match=r"host\.state has two handlers"):
            HandlerTable("vsphere", [*provider.table.handlers, copy.copy(provider.table["host.state"])])
        # The engine's host procedure drives it as a host manager (and never as firmware).
        assert isinstance(provider, hosts.HostManager) and not isinstance(provider, hosts.Firmware)


def test_host_state_is_one_bulk_read_per_vcenter_with_cpu_ready_from_queryperf(
    vcsim: Vcsim, provider: VSphereProvider, soap_calls: Counter[str]
) -> None:
    first, second, third = vcsim.hosts
    vcsim.set_cpu_ready(hosts={first: 4400, second: 400}, vms={f"{first.split('.')[0]}-vm00": [1800, 2000, 2200]})
    try:
        asked = [resource("host.state", h) for h in (first, second.upper(), third, "esx99.lab.example")]
        seen = provider.read(asked)
    finally:
        vcsim.set_cpu_ready()
    # Hosts, VMs: one PropertyCollector round trip each; every host's and running VM's window: one QueryPerf.
    assert soap_calls["RetrievePropertiesEx"] == 2 and soap_calls["QueryPerf"] == 1, soap_calls
    hot = seen[asked[0].address]
    assert hot is not None and hot.status["cpuReadyPercent"] == 22.0 and hot.status["responding"] is True
    assert hot.status["cpuReadySource"] == "vCenter QueryPerf, cpu.ready.summation averaged over 1 min"
    # The vCPU:pCPU figures health names as a cause: the powered-on VMs of the host (one of its two is off).
    assert hot.status["vcpus"] == 2 and hot.status["pcpus"] > 0
    assert hot.status["vms"][0] == {
        "name": f"{first.split('.')[0]}-vm00",
        "vcpus": 2,
        "cpuReadyPercent": 10.0,
        "cpuReadyPerVcpuPercent": 5.0,
    }
    cool = seen[asked[1].address]  # asked in another case: answered under the spec's spelling
    assert cool is not None and cool.status["cpuReadyPercent"] == 2.0 and cool.data["name"] == second
    assert seen[asked[3].address] is None  # vCenter has no such host: the planner reports it, never creates it


def test_power_policy_is_set_by_short_name_and_reads_back(
    vcsim: Vcsim, provider: VSphereProvider, soap_calls: Counter[str]
) -> None:
    host = vcsim.hosts[1]
    wanted = resource("host.power_policy", host, platform="vsphere", policy="static")
    before = provider.read([wanted])[wanted.address]
    assert before is not None and before.data == {"platform": "vsphere", "policy": "dynamic"}
    assert soap_calls["RetrievePropertiesEx"] == 1
    change = ResourceChange(address=wanted.address, action=Action.UPDATE, before=before.data, after=wanted.desired)
    progress: list[str] = []
    try:
        after = provider.apply(change, wanted, progress.append)
        assert after is not None and after.data == {"platform": "vsphere", "policy": "static"}
        assert after.status["policyName"] == "High performance"
        assert progress == [f"vCenter {VCENTER}: power policy of {host} is static (High performance)"]
        assert after.version != before.version
        assert soap_calls["ConfigurePowerPolicy"] == 1
    finally:
        back = resource("host.power_policy", host, platform="vsphere", policy="dynamic")
        provider.apply(change, back, progress.append)


def test_maintenance_mode_as_the_host_procedure_drives_it(vcsim: Vcsim, provider: VSphereProvider) -> None:
    host = resource("host.state", vcsim.hosts[2])
    progress: list[str] = []
    try:
        provider.enter_maintenance(host, progress.append)
        inside = provider.read_one(host)
        assert inside is not None and hosts.in_maintenance(inside) and hosts.responding(inside)
        assert "cpuReadyPercent" not in inside.status  # a poll is one small read: no metrics
        assert progress[-1] == f"vCenter {VCENTER}: entering maintenance mode on host {host.address.name}: success"
        reported = len(progress)
        provider.enter_maintenance(host, progress.append)  # idempotent: no task, nothing to report
        assert len(progress) == reported
    finally:
        provider.exit_maintenance(host, progress.append)
    assert not hosts.in_maintenance(provider.read_one(host))
    assert provider.read_one(resource("host.state", "esx99.lab.example")) is None
    with pytest.raises(PermanentError, match=r"has no host 'esx99\.lab\.example'"):
        provider.enter_maintenance(resource("host.state", "esx99.lab.example"), progress.append)


class _Task:
    """A maintenance task as vCenter shows it: still running at 10%, or failed with ``fault``."""

    _moId = "task-9"

    def __init__(self, fault: BaseException | None = None) -> None:
        self.fault = fault
        self.cancelled = False

    @property
    def info(self) -> Any:
        if self.fault is not None:
            return SimpleNamespace(state="error", progress=None, result=None, error=self.fault)
        return SimpleNamespace(state="running", progress=10, result=None, error=None)

    def CancelTask(self) -> None:
        self.cancelled = True


TIMEDOUT: BaseException = vim.fault.Timedout()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("fault", [None, TIMEDOUT], ids=["our-deadline", "vcenter-timedout"])
def test_maintenance_that_cannot_finish_in_time_is_permanent(
    fault: BaseException | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = _Task(fault)
    monkeypatch.setattr(
        host_ops, "managed_object", lambda *_a: SimpleNamespace(EnterMaintenanceMode_Task=lambda **_k: task)
    )
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    host = HostInfo(
        "esx01", "host-1", "C0", ConnectionState.CONNECTED, False, PowerState.ON, None, (), None, 1, 8, 16, "", ""
    )
    session = Session(endpoint=Endpoint("vc1", "vc1", 443), service_instance=None, content=None)
    with pytest.raises(PermanentError) as caught:
        host_ops.enter_maintenance(
            session, host, timeout_s=30, waiting=host_ops.Waiting(sleep=sleep, clock=lambda: now[0])
        )
    assert caught.value.code == "MaintenanceTimeout"
    assert "host esx01 did not enter maintenance mode within 30 s" in str(caught.value)
    assert "RECONCILER_VSPHERE_MAINTENANCE_TIMEOUT_S" in str(caught.value)
    assert task.cancelled is (fault is None)  # ours gave up first: vCenter must not finish it behind our back


def test_a_vsphere_run_without_a_login_fails_when_it_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=("RECONCILER_VSPHERE_USER", "RECONCILER_VSPHERE_PASSWORD"), estate="e.db")
    monkeypatch.setenv("RECONCILER_VSPHERE", "on")
    specs = copy_specs(tmp_path)
    edit_text(
        specs / "sites" / "contoso-west.yaml",
        "      platform: hyperv\n      hostGroup: All Hosts/West\n      bmc: {address: https://10.0.0.23",
        "      platform: vsphere\n      hostGroup: All Hosts/West\n      bmc: {address: https://10.0.0.23",
    )
    edit_text(
        specs / "sites" / "contoso-west.yaml",
        "  recoveryVault:",
        "  vcenter: {server: VC01.contoso.int}\n  recoveryVault:",
    )
    edit_text(
        specs / "profiles" / "power.yaml",
        "hypervisor: {powerPlan: HighPerformance}",
        "hypervisor: {powerPlan: HighPerformance, policy: static}",
    )
    result = run("plan", specs)
    assert result.exit_code == 1
    text = out(result)
    assert "no credentials for vCenter 'VC01.contoso.int': set RECONCILER_VSPHERE_USER" in text, text
    assert "Traceback" not in text


def test_a_session_vcenter_expired_is_signed_in_again_on_the_retry(vcsim: Vcsim, provider: VSphereProvider) -> None:
    wanted = resource("host.power_policy", vcsim.hosts[0], platform="vsphere", policy="static")
    assert provider.read([wanted])[wanted.address] is not None
    provider.vcenters.sessions.get(VCENTER).content.sessionManager.Logout()  # vCenter ends it behind our back
    with pytest.raises(TemporaryError, match="the session expired"):
        provider.read([wanted])
    assert provider.read([wanted])[wanted.address] is not None  # the engine's retry: a new session
