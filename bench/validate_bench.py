"""Benchmark: how fast ``reconciler validate`` reads a large estate, and how fast the CLI starts.

Run by ``make bench``. It prints figures and never asserts a timing (machines differ); it exits non-zero
only when the generated estate does not validate cleanly, because the figures of a broken run measure
nothing. The estate is one Site, the MemoryProfiles its VMs use and 1,000 Tenant files, each tenant
distinct and valid (own cloud, VM network, storage account, subscription, plan and resource group,
10 VMs with a memory profile), the shape a large hosting provider keeps in Git.

Targets from the issue: validating 1,000 tenant files takes under 2 s, ``reconciler --help`` under 0.3 s.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from specgen import (
    HOST_GROUP,
    HOSTS,
    LOGICAL_NETWORK,
    MEMORY_PROFILES,
    SITE,
    memory_profiles,
    site_document,
    tenant_vms,
)
from specgen import dump as _dump
from specgen import envelope as _envelope

from reconciler.spec.loader import LoadResult, load_paths

TENANTS = 1_000
VMS_PER_TENANT = 10
LOAD_RUNS = 5
HELP_RUNS = 10
CLI_RUNS = 3
IMPORT_RUNS = 5

VALIDATE_TARGET_S = 2.0
HELP_TARGET_S = 0.3


# --- the estate --------------------------------------------------------------------------------------


def tenant_document(i: int) -> dict[str, Any]:
    """Tenant ``i``: every name another tenant could clash with carries ``i``."""
    tag = f"T{i:04d}"
    network = f"{tag}-Network"
    return _envelope(
        "Tenant",
        f"tenant-{i:04d}",
        {
            "displayName": f"Tenant {i:04d}",
            "site": SITE,
            "plan": {
                "name": f"{tag} Plan",
                "azure": {
                    "tenantId": f"{i:08x}-1111-4111-8111-{i:012x}",
                    "subscriptionId": f"{i:08x}-2222-4222-8222-{i:012x}",
                },
                "allowedRegions": ["westus"],
                "allowedVmSizes": ["Standard_D2s_v3", "Standard_D4s_v3"],
            },
            "cloud": {"name": f"{tag} Cloud", "hostGroups": [HOST_GROUP], "logicalNetworks": [LOGICAL_NETWORK]},
            "vmNetworks": [
                {
                    "name": network,
                    "logicalNetwork": LOGICAL_NETWORK,
                    "subnets": [{"name": f"{tag}-1", "subnet": "192.168.10.0/24"}],
                }
            ],
            "recovery": {
                "resourceGroup": f"{tag}-RecoveryGroup",
                "storageAccount": {"name": f"benchdr{i:06d}", "sku": "Standard_GRS"},
                "virtualNetwork": {
                    "name": f"{tag}-DR",
                    "addressSpace": ["10.0.0.0/16"],
                    "subnets": [{"name": "Subnet1", "prefix": "10.0.1.0/24"}],
                },
                "policy": {
                    "name": f"{tag}-Policy",
                    "replicationIntervalSeconds": 300,
                    "recoveryPointHours": 24,
                    "appConsistentSnapshotHours": 4,
                },
                "networkMappings": [{"vmNetwork": network, "azureNetwork": f"{tag}-DR", "azureSubnet": "Subnet1"}],
                "defaultTargetVmSize": "Standard_D2s_v3",
            },
            "vms": tenant_vms(tag, i, VMS_PER_TENANT),
        },
    )


def write_estate(root: Path) -> int:
    """Write the estate under ``root``; returns the number of documents written."""
    _dump(root / "sites" / f"{SITE}.yaml", [site_document()])
    profiles = memory_profiles()
    _dump(root / "profiles" / "memory.yaml", profiles)
    for i in range(1, TENANTS + 1):
        _dump(root / "tenants" / f"tenant-{i:04d}.yaml", [tenant_document(i)])
    return 1 + len(profiles) + TENANTS


# --- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    best: float
    median: float
    runs: int


def _timed(action: Callable[[], object], *, runs: int, before: Callable[[], object] | None = None) -> Timing:
    seconds = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return Timing(best=min(seconds), median=statistics.median(seconds), runs=runs)


def _cli() -> list[str]:
    """The console script users type, next to this interpreter; ``python -m reconciler`` otherwise."""
    script = Path(sys.executable).with_name("reconciler")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "reconciler"]


def _run(args: Sequence[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)


def fail(message: str) -> NoReturn:
    """Stop: the figures of a run that did not validate the estate cleanly mean nothing."""
    print(f"benchmark invalid: {message}", file=sys.stderr)
    sys.exit(1)


def check_in_process(result: LoadResult, *, documents: int) -> None:
    if result.errors:
        shown = "\n".join(f"  {d.location}: {d.code} {d.path}: {d.message}" for d in result.errors[:10])
        fail(f"{len(result.errors)} errors in the generated estate:\n{shown}")
    if len(result.specs.tenants) != TENANTS or len(result.specs) != documents:
        fail(
            f"loaded {len(result.specs.tenants)} tenants and {len(result.specs)} documents, "
            f"wanted {TENANTS} and {documents}"
        )


def check_cli(run: subprocess.CompletedProcess[str], *, documents: int) -> None:
    if run.returncode != 0:
        fail(f"reconciler validate exited {run.returncode}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    report = json.loads(run.stdout)
    if report["errors"] or report["documents"] != documents:
        fail(f"reconciler validate reported {report['errors']} errors in {report['documents']} documents")


def import_time_us(module: str) -> int:
    """Cumulative import time of ``module`` in a fresh interpreter (``python -X importtime``), in µs."""
    run = _run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=Path.cwd())
    if run.returncode != 0:
        fail(f"import {module} failed:\n{run.stderr[-2000:]}")
    pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \|\s*{re.escape(module)}$", re.MULTILINE)
    match = pattern.search(run.stderr)
    if match is None:
        fail(f"no importtime line for {module}")
    return int(match.group(1))


# --- report ------------------------------------------------------------------------------------------


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def print_table(rows: Sequence[tuple[str, float, float]]) -> None:
    """Rows of (what, measured seconds, target seconds)."""
    header = ("target", "measured", "limit", "met")
    cells = [
        (what, f"{measured:.3f} s", f"< {limit:g} s", "yes" if measured < limit else "NO")
        for what, measured, limit in rows
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    print(_row(header, widths))
    print(_row(["-" * w for w in widths], widths))
    for row in cells:
        print(_row(row, widths))


def main() -> None:
    cli = _cli()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, CLI: {' '.join(cli)}")
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        documents = write_estate(root / "specs")
        files = sum(1 for _ in (root / "specs").rglob("*.yaml"))
        print(f"estate: {TENANTS:,} tenants x {VMS_PER_TENANT} VMs, {HOSTS} hosts, {MEMORY_PROFILES} memory profiles")
        print(f"        {documents:,} documents in {files:,} files, written in {time.perf_counter() - started:.2f} s")

        home = Path.cwd()
        os.chdir(root)  # relative paths in diagnostics, as a user running in their repository sees
        results: list[LoadResult] = []

        def load_once() -> None:
            results.append(load_paths([Path("specs")]))

        try:
            # Each run starts as a command does, without the previous runs' documents in memory (freed
            # outside the timing): a fork-based parse pays for the size of the process it forks.
            load = _timed(load_once, runs=LOAD_RUNS, before=results.clear)
        finally:
            os.chdir(home)
        check_in_process(results[-1], documents=documents)
        print(f"load_paths (in-process): best {load.best:.3f} s, median {load.median:.3f} s of {load.runs} runs")

        runs: list[subprocess.CompletedProcess[str]] = []
        cli_validate = _timed(
            lambda: runs.append(_run([*cli, "validate", "specs", "--format", "json"], cwd=root)), runs=CLI_RUNS
        )
        for run in runs:
            check_cli(run, documents=documents)
        validate_wall = cli_validate.median
        print(
            f"reconciler validate specs (subprocess): median {cli_validate.median:.3f} s, "
            f"best {cli_validate.best:.3f} s of {cli_validate.runs} runs"
        )

    def show_help() -> None:
        run = _run([*cli, "--help"], cwd=Path.cwd())
        if run.returncode != 0:
            fail(f"reconciler --help exited {run.returncode}:\n{run.stderr[-2000:]}")

    help_ = _timed(show_help, runs=HELP_RUNS)
    print(f"reconciler --help (subprocess): median {help_.median:.3f} s, best {help_.best:.3f} s of {help_.runs} runs")

    imports = [import_time_us("reconciler.cli.app") for _ in range(IMPORT_RUNS)]
    print(f"import reconciler.cli.app (-X importtime, cumulative): median {statistics.median(imports) / 1000:.1f} ms")

    print()
    print_table(
        [
            (f"validate {TENANTS:,} tenant files, in-process (median)", load.median, VALIDATE_TARGET_S),
            (f"reconciler validate, {TENANTS:,} tenant files (median wall)", validate_wall, VALIDATE_TARGET_S),
            ("reconciler --help (median wall)", help_.median, HELP_TARGET_S),
        ]
    )


if __name__ == "__main__":
    main()
