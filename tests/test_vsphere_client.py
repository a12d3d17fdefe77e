"""The vSphere client layer (reconciler.providers.vsphere) with real pyVmomi against vcsim.

Everything here talks SOAP over TLS to govmomi's simulator (tests/vcsim): the login is enforced, the
certificate is validated against the test CA, and CPU ready is what the test told the simulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.providers.vsphere import hosts as host_ops
from reconciler.providers.vsphere.inventory import (
    ConnectionState,
    ControllerType,
    MacType,
    PowerState,
    Provisioning,
    read_hosts,
    read_vms,
)
from reconciler.providers.vsphere.perf import EntityKind, cpu_ready
from reconciler.providers.vsphere.session import Session, Sessions
from reconciler.providers.vsphere.settings import VSphereSettings
from tests.vcsim_server import Vcsim

VCENTER = "vcenter.lab.example"
GIB = 1024**3


def settings_for(vcsim: Vcsim, **overrides: str) -> VSphereSettings:
    env = {
        "RECONCILER_VSPHERE": "on",
        "RECONCILER_VSPHERE_USER": vcsim.user,
        "RECONCILER_VSPHERE_PASSWORD": vcsim.password,
        "RECONCILER_VSPHERE_CA_BUNDLE": str(vcsim.ca_path),
        "RECONCILER_VSPHERE_SERVERS": f"{VCENTER}=127.0.0.1:{vcsim.port}",
        **overrides,
    }
    settings = VSphereSettings.from_env(env)
    assert settings is not None
    return settings


@pytest.fixture(scope="module")
def sessions(vcsim: Vcsim) -> Iterator[Sessions]:
    with Sessions(settings_for(vcsim)) as opened:
        yield opened


@pytest.fixture
def session(sessions: Sessions) -> Session:
    return sessions.get(VCENTER)


class CallLog:
    """The SOAP methods a session sent while the test watched (by wrapping its stub's InvokeMethod)."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()


@pytest.fixture
def calls(session: Session, monkeypatch: pytest.MonkeyPatch) -> CallLog:
    log = CallLog()
    stub = session.service_instance._stub
    original = stub.InvokeMethod

    def invoke(mo: Any, info: Any, args: Any) -> Any:
        log.methods[info.wsdlName] += 1
        return original(mo, info, args)

    monkeypatch.setattr(stub, "InvokeMethod", invoke)
    return log


def test_hosts_are_read_in_one_round_trip(vcsim: Vcsim, session: Session, calls: CallLog) -> None:
    hosts = read_hosts(session)

    assert calls.methods["RetrievePropertiesEx"] == 1
    assert calls.methods["ContinueRetrievePropertiesEx"] == 0
    assert [h.name for h in hosts] == sorted(vcsim.hosts)
    for host in hosts:
        assert host.cluster == "DC0_C0"
        assert host.connection_state is ConnectionState.CONNECTED
        assert host.power_state is PowerState.ON
        assert not host.in_maintenance
        assert host.cpu_cores > 0 and host.cpu_threads >= host.cpu_cores
        assert {p.short_name for p in host.available_policies} == {"static", "dynamic", "low", "custom"}
        assert host.power_policy is not None and host.power_policy.short_name == "dynamic"


def test_vms_are_read_with_their_inventory_in_one_round_trip(vcsim: Vcsim, session: Session, calls: CallLog) -> None:
    vms = {vm.name: vm for vm in read_vms(session)}

    assert calls.methods["RetrievePropertiesEx"] == 1
    expected = {str(m["name"]): m for m in vcsim.vms}
    assert set(vms) == set(expected)
    assert len({vm.nics[0].mac for vm in vms.values()}) == len(vms), "every VM has a MAC of its own"
    for name, made in expected.items():
        vm = vms[name]
        assert vm.host == made["host"]
        assert vm.vcpus == made["cpus"]
        assert vm.power_state is (PowerState.ON if made["poweredOn"] else PowerState.OFF)
        assert vm.tools_running == ("guestToolsRunning" if made["poweredOn"] else "guestToolsNotRunning")
        (nic,) = vm.nics
        assert nic.mac == made["mac"] and nic.adapter == "vmxnet3"
        first = vm.disks[0]
        assert (first.controller, first.bus, first.unit) == (ControllerType.PVSCSI, 0, 0)
        assert first.size_bytes == 40 * GIB and first.provisioning is Provisioning.THIN
        assert first.file.endswith(f"{name}/{name}.vmdk")

    # Every other VM: a thick eager-zeroed data disk on an LSI Logic SAS controller, a manual MAC on the
    # distributed port group, 4 GiB with 1 GiB reserved.
    odd = vms[f"{vcsim.hosts[0].split('.')[0]}-vm01"]
    assert [(d.controller, d.provisioning, d.size_bytes) for d in odd.disks] == [
        (ControllerType.PVSCSI, Provisioning.THIN, 40 * GIB),
        (ControllerType.LSILOGIC_SAS, Provisioning.THICK_EAGER, 100 * GIB),
    ]
    assert (odd.nics[0].port_group, odd.nics[0].mac_type) == ("DC0_DVPG0", MacType.MANUAL)
    assert (odd.memory_mb, odd.memory_reservation_mb, odd.memory_limit_mb) == (4096, 1024, None)
    even = vms[f"{vcsim.hosts[0].split('.')[0]}-vm00"]
    assert (even.nics[0].port_group, even.nics[0].mac_type) == ("VM Network", MacType.ASSIGNED)
    assert (even.memory_mb, even.memory_reservation_mb, even.guest_id) == (2048, 0, "windows2019srv_64Guest")


def test_power_policy_is_written_by_short_name_and_reads_back(vcsim: Vcsim, session: Session, calls: CallLog) -> None:
    host = next(h for h in read_hosts(session) if h.name == vcsim.hosts[1])
    try:
        chosen = host_ops.set_power_policy(session, host, "static")
        assert chosen.short_name == "static"
        after = host_ops.read_host(session, host.moid)
        assert after.power_policy is not None and after.power_policy.short_name == "static"
        assert after.cluster == "DC0_C0"
        others = [h for h in read_hosts(session) if h.name != host.name]
        assert all(h.power_policy is not None and h.power_policy.short_name == "dynamic" for h in others)

        sent = calls.methods["ConfigurePowerPolicy"]
        host_ops.set_power_policy(session, after, "STATIC")  # already in force: nothing is sent
        assert calls.methods["ConfigurePowerPolicy"] == sent == 1

        with pytest.raises(PermanentError, match=r"no power policy 'turbo' \(it offers: static, dynamic, low, custom"):
            host_ops.set_power_policy(session, after, "turbo")
    finally:
        host_ops.set_power_policy(session, host_ops.read_host(session, host.moid), "dynamic")


def test_maintenance_mode_is_entered_and_left_with_progress(vcsim: Vcsim, session: Session) -> None:
    host = next(h for h in read_hosts(session) if h.name == vcsim.hosts[2])
    seen: list[host_ops.TaskProgress] = []
    try:
        assert host_ops.enter_maintenance(session, host, timeout_s=60, on_progress=seen.append)
        inside = host_ops.read_host(session, host.moid)
        assert inside.in_maintenance
        assert seen and seen[-1].state == "success" and "entering maintenance" in seen[-1].action
        assert not host_ops.enter_maintenance(session, inside, timeout_s=60), "already in maintenance: no task"

        assert host_ops.exit_maintenance(session, inside, timeout_s=60)
        assert not host_ops.read_host(session, host.moid).in_maintenance
    finally:
        current = host_ops.read_host(session, host.moid)
        host_ops.exit_maintenance(session, current, timeout_s=60)


def test_cpu_ready_is_what_the_simulator_reports(vcsim: Vcsim, session: Session, calls: CallLog) -> None:
    hosts = read_hosts(session)
    vms = read_vms(session)
    dbpm = vcsim.hosts[0]
    busy_vm = next(v for v in vms if v.host == dbpm and v.power_state is PowerState.ON)
    # 22% on the host whose BIOS is in DBPM: 4,400 ms of every 20 s; its VM waits 10% (5% per vCPU).
    vcsim.set_cpu_ready(hosts={dbpm: 4400}, vms={busy_vm.name: [1800, 2000, 2200]})
    try:
        readings = {r.name: r for r in cpu_ready(session, hosts=hosts, vms=[busy_vm], samples=3)}
        assert calls.methods["QueryPerf"] == 1, "one QueryPerf for every host and VM"
        host = readings[dbpm]
        assert host.kind is EntityKind.HOST and host.samples_ms == (4400, 4400, 4400)
        assert host.percent == pytest.approx(22.0) and host.per_vcpu_percent is None
        vm = readings[busy_vm.name]
        assert vm.samples_ms == (1800, 2000, 2200), "oldest first"
        assert vm.percent == pytest.approx(10.0) and vm.peak_percent == pytest.approx(11.0)
        assert vm.vcpus == busy_vm.vcpus == 2 and vm.per_vcpu_percent == pytest.approx(5.0)
        assert [readings[h].percent for h in vcsim.hosts[1:]] == [0.0, 0.0], readings

        vcsim.set_cpu_ready(hosts={dbpm: 400})  # after the BIOS moved to maximum performance
        (after,) = cpu_ready(session, hosts=[h for h in hosts if h.name == dbpm], samples=15)
        assert after.percent == pytest.approx(2.0) and len(after.samples_ms) == 15
    finally:
        vcsim.set_cpu_ready()


def test_sessions_are_reused_and_closed(vcsim: Vcsim) -> None:
    opened: list[Session] = []
    with Sessions(settings_for(vcsim)) as sessions:
        first = sessions.get(VCENTER)
        opened.append(first)
        assert sessions.get(VCENTER.upper()) is first
        assert read_hosts(first)
    with pytest.raises(TemporaryError, match="session expired"):
        read_hosts(opened[0])  # logged out when the block ended


def test_a_wrong_password_is_one_clear_error_naming_the_vcenter(vcsim: Vcsim) -> None:
    wrong = "x" + vcsim.password
    with (
        Sessions(settings_for(vcsim, RECONCILER_VSPHERE_PASSWORD=wrong)) as sessions,
        pytest.raises(PermanentError) as caught,
    ):
        sessions.get(VCENTER)
    message = str(caught.value)
    assert caught.value.code == "InvalidLogin"
    assert message.startswith(f"vCenter {VCENTER}: the login was refused")
    assert wrong not in message and vcsim.password not in message


def test_an_untrusted_certificate_is_refused(vcsim: Vcsim) -> None:
    settings = settings_for(vcsim, RECONCILER_VSPHERE_CA_BUNDLE="")
    with Sessions(settings) as sessions, pytest.raises(PermanentError) as caught:
        sessions.get(VCENTER)
    assert caught.value.code == "CertificateNotTrusted"
    assert "RECONCILER_VSPHERE_CA_BUNDLE" in str(caught.value)
