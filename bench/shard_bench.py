"""Benchmark: one estate planned by N shards (``--shard I/N``), each shard in its own process, against the same
embedded estate as ``scale_bench.py`` (20 ms per round trip). Run by ``make bench`` after it; prints figures and
never asserts a timing. It exits non-zero when the shards do not add up to the whole plan (a shard that lost or
duplicated a resource measures nothing).

For docs/scaling.md: tenants per shard, and each shard's plan time next to the whole estate's in one process.
Shards run one after another here (2 cores): on Kubernetes each has a node's share of its own.

    python bench/shard_bench.py                       # 1,000 tenants in 1, 2, 4 and 8 shards
    python bench/shard_bench.py --tenants 100 --shards 1,4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scale_bench import LATENCY_S, READ_CONCURRENCY, PlanRun, fail, prepare, print_table, run_worker


def measure(root: Path, tenants: int, counts: list[int]) -> list[list[str]]:
    prepared = prepare(root, tenants)
    print(f"{tenants:,} tenants, {prepared.resources:,} resources; estate generated in {prepared.seconds:.1f} s")
    whole = PlanRun.of(run_worker("plan", "--specs", str(prepared.specs), "--db", str(prepared.db)))
    rows = []
    for count in counts:
        runs = [
            PlanRun.of(
                run_worker("plan", "--specs", str(prepared.specs), "--db", str(prepared.db), "--shard", f"{i}/{count}")
            )
            for i in range(count)
        ]
        if sum(r.resources for r in runs) != whole.resources:
            fail(f"{count} shards planned {sum(r.resources for r in runs)} resources, the whole plan {whole.resources}")
        walls = [r.wall_s for r in runs]
        rows.append(
            [
                str(count),
                f"{tenants / count:,.0f}",
                f"{statistics.median(r.resources for r in runs):,.0f}",
                f"{statistics.median(walls):.2f} s",
                f"{max(walls):.2f} s",
                f"{max(r.rss_mb for r in runs):.0f} MB",
                f"{whole.wall_s / max(walls):.1f}x",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--shards", default="1,2,4,8", help="shard counts, comma-separated")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.shards.split(",") if c.strip()})
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; embedded estate latency {LATENCY_S * 1000:g} ms "
        f"per round trip; read concurrency {READ_CONCURRENCY}; shards planned one after another"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reconciler-shards-") as tmp:
        rows = measure(Path(tmp), args.tenants, counts)
    print()
    print_table(
        ["shards", "tenants/shard", "resources/shard", "plan (median)", "plan (slowest)", "peak RSS", "speedup"],
        rows,
    )
    print(f"\n(shard benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
