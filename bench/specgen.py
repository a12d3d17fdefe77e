"""Shared by the benchmarks: the synthetic site and memory profiles every generated estate uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

HOSTS = 64
MEMORY_PROFILES = 10
SITE = "bench-west"
HOST_GROUP = "All Hosts/Bench"
LOGICAL_NETWORK = "Provider Address"
VAULT = "BenchRecoveryVault"
REGION = "westus"
PROVIDER_DIRECTORY = "00000000-1111-4111-8111-000000000000"  # the provider's own Azure AD directory


def envelope(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "reconciler/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def host_name(i: int) -> str:
    return f"HV{i:03d}.bench.int"


def site_document() -> dict[str, Any]:
    """One VMM server with ``HOSTS`` Hyper-V hosts and the NVGRE chain every tenant network needs."""
    hosts = [host_name(i) for i in range(1, HOSTS + 1)]
    return envelope(
        "Site",
        SITE,
        {
            "vmm": {"server": "VMM01.bench.int"},
            "recoveryVault": {
                "subscriptionId": "00000000-0000-0000-0000-000000000001",
                "resourceGroup": "BenchRecoveryGroup",
                "name": VAULT,
                "location": REGION,
            },
            "hostGroups": [HOST_GROUP],
            "hosts": [
                {
                    "name": name,
                    "platform": "hyperv",
                    "hostGroup": HOST_GROUP,
                    "bmc": {"address": f"https://10.0.{i // 250}.{i % 250 + 1}", "vendor": "dell"},
                }
                for i, name in enumerate(hosts)
            ],
            "logicalNetworks": [
                {
                    "name": LOGICAL_NETWORK,
                    "networkVirtualization": True,
                    "sites": [
                        {
                            "name": "PA-Bench",
                            "hostGroups": [HOST_GROUP],
                            "subnets": [{"subnet": "10.10.0.0/16", "vlan": 0}],
                            "ipPools": [
                                {
                                    "name": "PA-Pool",
                                    "subnet": "10.10.0.0/16",
                                    "range": {"start": "10.10.0.10", "end": "10.10.255.250"},
                                    "gateway": "10.10.0.1",
                                }
                            ],
                        }
                    ],
                }
            ],
            "uplinkPortProfiles": [{"name": "PA-Uplink", "sites": ["PA-Bench"], "networkVirtualization": True}],
            "portClassifications": [{"name": "Tenant-Guarded", "dhcpGuard": True, "routerGuard": True}],
            "logicalSwitches": [
                {
                    "name": "Tenant-Switch",
                    "uplinkMode": "Team",
                    "uplinkPortProfiles": ["PA-Uplink"],
                    "portClassifications": ["Tenant-Guarded"],
                    "hosts": hosts,
                }
            ],
        },
    )


def memory_profiles() -> list[dict[str, Any]]:
    return [
        envelope(
            "MemoryProfile",
            f"bench-memory-{i}",
            {"dynamic": True, "startup": f"{i + 1}GiB", "minimum": "512MiB", "maximum": f"{2 * (i + 1)}GiB"},
        )
        for i in range(MEMORY_PROFILES)
    ]


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built with it


def tenant_vms(tag: str, i: int, count: int) -> list[dict[str, Any]]:
    """A tenant's VMs: every other one protected, a mix of OS types, memory profiles in rotation."""
    return [
        {
            "name": f"{tag}-VM{j:02d}",
            "protect": j % 2 == 0,
            "osType": "Windows" if j % 3 else "Linux",
            "memoryProfile": f"bench-memory-{(i + j) % MEMORY_PROFILES}",
        }
        for j in range(count)
    ]


def dump(path: Path, documents: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False), encoding="utf-8")
