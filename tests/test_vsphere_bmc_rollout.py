"""The vSphere and BMC providers end to end, through the CLI: ESXi hosts in govmomi's vCenter simulator
(tests/vcsim: their maintenance mode, power policy and CPU ready) and one Dell iDRAC-like Redfish emulator per
host (tests/redfish_server.py: BIOS pending until a reset, a BIOS job per change), with the test's own site spec
and a power profile selecting them. Everything else (the site's vault) stays on the embedded estate.

The seed's story, on real protocols: drift reads CPU ready 22% from vCenter's QueryPerf and names the BIOS's
demand-based power management read from the BMC; the plan shows the BIOS change as disruptive; apply rolls the
hosts through vSphere maintenance mode one at a time (vCenter's own task list proves the order), stages the
profile on each BMC, resets the server and waits for the job; the plan after shows no changes, and drift reads
2% once the simulator says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.vsphere.session import Sessions
from reconciler.providers.vsphere.settings import VSphereSettings
from tests import vcsim_server
from tests.helpers import EMBEDDED_ENV, drift_as_json, init_estate, isolate, out, pending, plan_json, run
from tests.redfish_server import Bmc, BmcFactory
from tests.vcsim_server import Vcsim

VCENTER = "vcenter.lab.example"
SITE = "contoso-west"  # the shipped estate's site: its vault (on the embedded estate) is already as the spec says
PROFILE = "esx-max-performance"
READY_22 = 4400  # ms of ready time per 20 s sample: 22%
READY_2 = 400  # 2%


@dataclass
class Lab:
    vcsim: Vcsim
    bmcs: dict[str, Bmc]  # by host name
    specs: Path

    @property
    def hosts(self) -> tuple[str, ...]:
        return self.vcsim.hosts


@pytest.fixture(scope="module")
def lab_peers(
    vcsim_binary: Path, redfish_bmcs: BmcFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Vcsim, dict[str, Bmc]]]:
    """A vCenter simulator of this module's own (3 ESXi hosts, 2 VMs each) and a Dell BMC per host."""
    with vcsim_server.start(vcsim_binary, tmp_path_factory.mktemp("lab-vcsim")) as vcsim:
        # A reset's boot lasts a few reads of the server, so the rollout polls until the BIOS job completes.
        bmcs = {host: redfish_bmcs.start(vendor="dell", name=host, boot_polls=4) for host in vcsim.hosts}
        yield vcsim, bmcs


def site_spec(hosts: tuple[str, ...], bmcs: dict[str, Bmc]) -> str:
    lines = [
        "apiVersion: reconciler/v1",
        "kind: Site",
        f"metadata: {{name: {SITE}}}",
        "spec:",
        "  vmm: {server: VMM01.contoso.int}",
        f"  vcenter: {{server: {VCENTER}}}",
        "  recoveryVault:",
        "    subscriptionId: 00000000-0000-0000-0000-000000000001",
        "    resourceGroup: WAPRecoveryGroup",
        "    name: WAPRecoveryVault",
        "    location: westus",
        "    lifecycle: {protect: true}",
        '  hostGroups: ["All Hosts/Lab"]',
        "  hosts:",
    ]
    for host in hosts:
        lines += [
            f"    - name: {host}",
            "      platform: vsphere",
            "      hostGroup: All Hosts/Lab",
            f'      bmc: {{address: "{bmcs[host].url}", vendor: dell}}',
        ]
    return "\n".join(lines) + "\n"


def power_spec() -> str:
    return (
        "apiVersion: reconciler/v1\n"
        "kind: PowerProfile\n"
        f"metadata: {{name: {PROFILE}}}\n"
        "spec:\n"
        f"  site: {SITE}\n"
        "  hostGroup: All Hosts/Lab\n"
        "  bios: {profile: MaximumPerformance}\n"
        "  hypervisor: {policy: static}\n"
        "  cpuReadyAlertPercent: 5\n"
        "  rollout: {maxUnavailable: 1}\n"
    )


def login_file(path: Path, bmcs: dict[str, Bmc]) -> Path:
    """Each emulated BMC has a login of its own, generated at run time: one table per host, owner-only."""
    text = "".join(f'[bmcs."{host}"]\nuser = "{b.user}"\npassword = "{b.password}"\n\n' for host, b in bmcs.items())
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def lab(lab_peers: tuple[Vcsim, dict[str, Bmc]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    vcsim, bmcs = lab_peers
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, estate="estate.db", audit_log="audit.jsonl")
    env = {
        "RECONCILER_VSPHERE": "on",
        "RECONCILER_VSPHERE_USER": vcsim.user,
        "RECONCILER_VSPHERE_PASSWORD": vcsim.password,
        "RECONCILER_VSPHERE_CA_BUNDLE": str(vcsim.ca_path),
        "RECONCILER_VSPHERE_SERVERS": f"{VCENTER}=127.0.0.1:{vcsim.port}",
        "RECONCILER_VSPHERE_RESTART_POLL_S": "0",
        "RECONCILER_BMC": "on",
        "RECONCILER_BMC_LOGIN_FILE": str(login_file(tmp_path / "bmc-logins.toml", bmcs)),
        "RECONCILER_BMC_CA_BUNDLE": str(next(iter(bmcs.values())).ca_path),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    init_estate(tmp_path / "estate.db")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "site.yaml").write_text(site_spec(vcsim.hosts, bmcs))
    (specs / "power.yaml").write_text(power_spec())
    return Lab(vcsim, bmcs, specs)


def maintenance_tasks(vcsim: Vcsim) -> list[tuple[str, str]]:
    """(host, enter|exit) of every maintenance-mode task vCenter ran, in the order it ran them."""
    settings = VSphereSettings.from_env(
        {
            "RECONCILER_VSPHERE": "on",
            "RECONCILER_VSPHERE_USER": vcsim.user,
            "RECONCILER_VSPHERE_PASSWORD": vcsim.password,
            "RECONCILER_VSPHERE_CA_BUNDLE": str(vcsim.ca_path),
            "RECONCILER_VSPHERE_SERVERS": f"{VCENTER}=127.0.0.1:{vcsim.port}",
        }
    )
    assert settings is not None
    found: list[tuple[str, str]] = []
    with Sessions(settings) as sessions:
        session = sessions.get(VCENTER)
        for task in session.content.taskManager.recentTask:
            info: Any = task.info
            verb = {"HostSystem.enterMaintenanceMode": "enter", "HostSystem.exitMaintenanceMode": "exit"}.get(
                info.descriptionId
            )
            if verb is not None:
                assert str(info.state) == "success", info
                found.append((str(info.entity.name), verb))
    return found


def health(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The cpu-ready findings of a drift document, by host name."""
    return {h["name"]: h for h in document["health"] if h["check"] == "cpu-ready"}


def test_the_seeds_fix_rolls_esxi_hosts_through_maintenance_on_real_protocols(lab: Lab) -> None:
    lab.vcsim.set_cpu_ready(hosts=dict.fromkeys(lab.hosts, READY_22))

    # Drift before: CPU ready from vCenter, the BIOS from each BMC, the policy from vCenter.
    code, document = drift_as_json(lab.specs, Path("estate.db"))
    assert code == 2
    found = health(document)
    assert set(found) == set(lab.hosts)
    first = found[lab.hosts[0]]
    assert first["value"] == 22 and first["severity"] == "critical"
    assert "PerfPerWattOptimizedDapc" in first["cause"] and "dynamic" in first["cause"]
    assert first["message"].endswith("(vCenter QueryPerf, cpu.ready.summation averaged over 5 min)")
    assert first["evidence"]["pcpus"] > 0 and first["evidence"]["vcpus"] == 2  # the host's running VM

    # The plan: a BIOS change per host (disruptive: a reboot in maintenance mode) and a power policy each.
    changes = {c["address"]: c for c in pending(plan_json(lab.specs, Path("estate.db")))}
    for host in lab.hosts:
        bios = changes[f"bmc.bios:{SITE}/{host}"]
        assert bios["disruptive"], bios
        assert bios["fields"] == [
            {"path": "attributes.SysProfile", "old": "PerfPerWattOptimizedDapc", "new": "PerfOptimized"}
        ] or any(f["path"] == "attributes.SysProfile" for f in bios["fields"])
        assert changes[f"host.power_policy:{SITE}/{host}"]["action"] == "update"

    applied = run("apply", lab.specs, "--yes", "--allow-disruption", "--estate", "estate.db")
    text = out(applied)
    assert applied.exit_code == 0, text
    assert "host restart: waiting (settings pending)" in text  # the job ran while the host booted

    # vCenter's own task list: each host entered and left maintenance once, never two out at a time.
    tasks = maintenance_tasks(lab.vcsim)
    assert sorted(tasks) == sorted([(h, verb) for h in lab.hosts for verb in ("enter", "exit")])
    out_now: set[str] = set()
    for host, verb in tasks:
        if verb == "enter":
            out_now.add(host)
            assert len(out_now) <= 1, tasks  # maxUnavailable: 1
        else:
            out_now.discard(host)
    assert [host for host, verb in tasks if verb == "enter"] == list(lab.hosts)  # the profile's host order
    # Each BMC: the profile in force, nothing pending, reset once, its BIOS job completed.
    for host, bmc in lab.bmcs.items():
        system = f"/redfish/v1/Systems/{bmc.system_id}"
        assert bmc.get(f"{system}/Bios")["Attributes"]["SysProfile"] == "PerfOptimized", host
        assert bmc.get(f"{system}/Bios/Settings")["Attributes"] == {}, host
        jobs = bmc.get("/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/Jobs")["Members"]
        assert [bmc.get(j["@odata.id"])["JobState"] for j in jobs] == ["Completed"], host

    again = run("plan", lab.specs, "--detailed-exitcode", "--estate", "estate.db")
    assert again.exit_code == 0, out(again)
    assert "No changes" in out(again)

    # The fix, as vCenter measures it: 2% is within the profile's 5%; no finding, nothing drifted.
    lab.vcsim.set_cpu_ready(hosts=dict.fromkeys(lab.hosts, READY_2))
    code, document = drift_as_json(lab.specs, Path("estate.db"))
    assert code == 0, document["health"]
    assert not health(document)
    assert {r["name"]: r["percent"] for r in document["cpuReady"]} == dict.fromkeys(lab.hosts, 2.0)
    # The history of drift runs keeps each host's trend.
    trend = run("drift", lab.specs, "--format", "markdown", "--estate", "estate.db")
    assert f"| {lab.hosts[0]} | 2% | 5% | 22% → 2% → 2% |" in trend.stdout, trend.stdout

    # No password reached an output, a report or the audit trail (the BMCs' come from the login file only).
    shown = "\n".join([text, out(again), trend.stdout, json.dumps(document), Path("audit.jsonl").read_text()])
    for password in (lab.vcsim.password, *(b.password for b in lab.bmcs.values())):
        assert password not in shown
