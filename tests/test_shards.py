"""Scaling out: ``--shard I/N`` splits the sites and tenants between N processes by a stable hash of their names
(``core.addresses.shard_of``). Every resource belongs to exactly one shard (a site's own resources to the site's
shard, never brought along by tenants elsewhere); shard processes against one PostgreSQL store plan each tenant
exactly once, never collide on a lock, and leave one run each in the history."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.addresses import Address, parse_shard, shard_of
from reconciler.engine import expand, selection
from reconciler.spec.loader import load_paths
from reconciler.store import history
from reconciler.store.db import open_store
from tests.helpers import EMBEDDED_ENV, applied_estate, copy_specs, isolate

SHARDS = 3
EXTRA_TENANTS = 9
TENANT = """\
apiVersion: reconciler/v1
kind: Tenant
metadata: {{name: {name}}}
spec:
  site: contoso-west
  plan:
    name: {name} plan
    azure:
      tenantId: 33333333-3333-3333-3333-3333333333{i:02d}
      subscriptionId: 44444444-4444-4444-4444-4444444444{i:02d}
    allowedRegions: [westus]
    allowedVmSizes: [Standard_B2ms]
  cloud: {{name: {name} Cloud, hostGroups: [All Hosts/West], logicalNetworks: [Provider Address]}}
  vmNetworks:
    - {{name: {name}-net, logicalNetwork: Provider Address, subnets: [{{name: s1, subnet: 192.168.{i}.0/24}}]}}
"""


def test_the_shard_hash_is_stable_and_selectors_parse() -> None:
    assert shard_of("acmecorp", 4) == shard_of("acmecorp", 4)
    assert [shard_of(name, 4) for name in ("acmecorp", "fabrikam", "contoso-west")] == [2, 2, 0]  # pinned: SHA-256
    assert parse_shard("shard/3/4") == (3, 4)
    assert parse_shard("shard/4/4") is None and parse_shard("shard/x/4") is None
    assert Address("vmm.cloud", "fabrikam", "Fabrikam Cloud").matches("shard/2/4")
    assert not Address("vmm.cloud", "fabrikam", "Fabrikam Cloud").matches("shard/0/4")


def _specs(tmp_path: Path) -> Path:
    specs = copy_specs(tmp_path)
    for i in range(EXTRA_TENANTS):
        name = f"tenant-{i:02d}"
        (specs / "tenants" / f"{name}.yaml").write_text(TENANT.format(name=name, i=i + 30), encoding="utf-8")
    return specs


def test_every_resource_is_in_exactly_one_shard(tmp_path: Path) -> None:
    loaded = load_paths([_specs(tmp_path)])
    assert loaded.ok, loaded.diagnostics
    resources = expand.expand(loaded.specs)
    for count in (1, 2, 3, 7):
        picked = [selection.select(resources, targets=[f"shard/{i}/{count}"]) for i in range(count)]
        addresses = [r.address for chosen in picked for r in chosen]
        assert sorted(addresses) == sorted(r.address for r in resources)  # all of them, each once
        for i, chosen in enumerate(picked):
            # A tenant's resources stay together; the site's own go with the site, never with its tenants.
            assert {shard_of(r.tenant or r.site, count) for r in chosen} <= {i}
    # --target still brings along what a tenant needs, within the shard only.
    for count in (2, 3):
        shard = shard_of("acmecorp", count)
        one = selection.select(resources, targets=["tenant/acmecorp", f"shard/{shard}/{count}"])
        site_too = shard_of("contoso-west", count) == shard
        assert {r.tenant for r in one} == {"acmecorp"} | ({None} if site_too else set())


@pytest.fixture
def shared_store(postgresql_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from tests import pg

    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, database=None, estate="estate.db", audit_log="audit.jsonl")
    with pg.fresh_database(postgresql_server, f"t_{uuid.uuid4().hex[:16]}") as url:
        monkeypatch.setenv("RECONCILER_DATABASE_URL", url)
        yield url


def _run_shards(command: list[str], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """``reconciler COMMAND --shard I/N`` for every I at once, each its own process; their results."""
    cli = [str(Path(sys.executable).parent / "reconciler")]
    started = [
        subprocess.Popen(
            [*cli, *command, "--shard", f"{i}/{SHARDS}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(SHARDS)
    ]
    done = []
    for process in started:
        stdout, stderr = process.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def test_shard_processes_share_one_postgresql_store(shared_store: str, tmp_path: Path) -> None:
    applied_estate(tmp_path / "estate.db")  # the site and the two example tenants converged first
    specs = _specs(tmp_path)
    tenants = {"acmecorp", "fabrikam", *(f"tenant-{i:02d}" for i in range(EXTRA_TENANTS))}
    env = {**os.environ, "RECONCILER_EMBEDDED_LATENCY_MS": "10"}  # steps long enough for the shards to overlap

    plans = _run_shards(["plan", str(specs), "--json"], env)
    assert [p.returncode for p in plans] == [0] * SHARDS, [p.stderr for p in plans]
    applies = _run_shards(["apply", str(specs), "--yes"], env)
    # No lock collision: an apply finding a scope locked would exit 1 at once (--lock-timeout 0).
    assert [a.returncode for a in applies] == [0] * SHARDS, [a.stdout + a.stderr for a in applies]

    with open_store(shared_store) as store:
        plan_runs = history.list_runs(kind="plan", store=store)
        apply_runs = history.list_runs(kind="apply", store=store)[:SHARDS]  # the newest: the shards'
        planned: dict[str, int] = {}
        for run in plan_runs:
            report = history.get_report(run.id, store=store)
            assert report is not None
            for scope in {c["tenant"] for c in report["changes"] if c["tenant"]}:
                planned[scope] = planned.get(scope, 0) + 1
        applied: dict[str, int] = {}
        for run in apply_runs:
            found = history.get_run(run.id, store=store)
            assert found is not None and found.result == "ok"
            for scope in {Address.parse(s.address).scope for s in found.steps}:
                applied[scope] = applied.get(scope, 0) + 1
    assert len(plan_runs) == SHARDS  # one plan run per shard
    assert planned == dict.fromkeys(tenants, 1)  # each tenant planned by exactly one shard
    new = {f"tenant-{i:02d}" for i in range(EXTRA_TENANTS)}
    assert set(applied) == new and set(applied.values()) == {1}  # each new tenant applied by one shard only
    rerun = subprocess.run(
        [str(Path(sys.executable).parent / "reconciler"), "plan", str(specs), "--detailed-exitcode"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr  # together the shards converged everything
