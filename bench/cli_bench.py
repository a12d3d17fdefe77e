"""Benchmark: what an operator waits for. The ``reconciler`` command, from start to its last line, at scale.

Run by ``make bench`` after ``scale_bench.py`` (which measures the engine alone). It prints figures beside their
targets with YES or NO, and beside the previous release's in the same run (the ``v0.1.0`` tag, exported into a
temporary folder and run with this environment's Python and libraries), so a regression shows as a ratio rather
than as noise between machines or minutes. It asserts no timing; it exits non-zero only when a run is broken.

Measured, against the embedded estate at 20 ms per round trip (``RECONCILER_EMBEDDED_LATENCY_MS``):
- ``reconciler plan`` and ``reconciler drift`` at 1,000 tenants: wall, CPU (the process and its parse workers)
  and peak RSS, the median of ``--repeat`` runs after a first run that fills the parse cache (plan's first run on
  a tree is also shown), plan and drift taking turns so that they are compared on the same minutes;
- the round trips a plan costs and its lower bound, for tenants sharing the provider's Azure AD directory and for
  CSP tenants each in their own directory;
- peak RSS per size, up to 10,000 tenants (``--sizes``);
- the Terraform-style baseline (one read per resource, 10 in parallel; ``scale_bench``'s worker) against the CLI;
- start-up: ``reconciler --help`` and ``reconciler validate`` on the shipped specs, with bytecode not written
  (``PYTHONDONTWRITEBYTECODE=1``, as in a container): the install compiled it.

    python bench/cli_bench.py                      # what make bench runs
    python bench/cli_bench.py --sizes 100,1000     # without the 10,000-tenant run
    python bench/cli_bench.py --no-previous        # without the previous release
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scale_bench import LATENCY_S, READ_CONCURRENCY, PlanRun, Prepared, fail, prepare, print_table, run_worker

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_TAG = "v0.1.0"
TARGET_TENANTS = 1_000
PLAN_WALL_S, PLAN_CPU_S, PLAN_RSS_MB = 4.0, 3.5, 300.0
DRIFT_WITHIN = 0.10  # of plan's wall time
SHARED_ROUND_TRIPS = 300
BIG_TENANTS, BIG_RSS_MB = 10_000, 1_200.0
SPEEDUP = 20.0
HELP_S, VALIDATE_S = 0.15, 0.4


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    rss_mb: float


def command(version: Path | None, *args: str, cwd: Path, env: dict[str, str], out: Path) -> Run:
    """One CLI run in its own process (``version``: a source tree to run instead of this one), measured by
    ``wait4``: its CPU and peak RSS include its parse workers'."""
    run_env = {**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", "COLUMNS": "160"}
    if version is not None:
        run_env["PYTHONPATH"] = str(version)
    argv = [sys.executable, "-m", "reconciler", *args]
    with out.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=run_env, stdout=sink, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 2):  # 2: plan --detailed-exitcode / drift found changes
        fail(f"{' '.join(args[:2])} exited {process.returncode}: {out.read_text(errors='replace')[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        statistics.median(r.rss_mb for r in runs),
    )


class Estate:
    """One generated size: specs, an estate, and a working folder per version (each its own history store)."""

    def __init__(self, root: Path, tenants: int, *, shared: bool) -> None:
        self.prepared: Prepared = prepare(root, tenants, shared=shared)
        self.root = root

    def run(self, version: Path | None, verbs: tuple[str, ...], *, repeat: int) -> dict[str, tuple[Run, Run]]:
        """Per verb: (the first run, the median of ``repeat`` more) of ``reconciler <verb>`` on this estate. The
        verbs take turns (plan, drift, plan, drift, ...), so that their figures come from the same minutes."""
        label = "previous" if version is not None else "current"
        work = self.root / label
        work.mkdir(exist_ok=True)
        estate = work / "estate.db"
        if not estate.exists():  # each version its own copy: a newer one may migrate the file
            estate.write_bytes(self.prepared.db.read_bytes())
        env = {
            "RECONCILER_EMBEDDED_LATENCY_MS": str(LATENCY_S * 1000),
            "RECONCILER_CACHE_DIR": str(work / "cache"),
        }

        def once(verb: str) -> Run:
            args = (verb, str(self.prepared.specs), "--estate", str(estate))
            return command(version, *args, cwd=work, env=env, out=work / f"{verb}.out")

        first = {verb: once(verb) for verb in verbs}
        rounds = [{verb: once(verb) for verb in verbs} for _ in range(repeat)]
        return {verb: (first[verb], median([r[verb] for r in rounds])) for verb in verbs}

    def round_trips(self) -> PlanRun:
        p = self.prepared
        return PlanRun.of(run_worker("plan", "--specs", str(p.specs), "--db", str(p.db)))

    def previous_round_trips(self, version: Path | None) -> int | None:
        """The round trips the previous release's engine makes on this estate (its own benchmark's plan worker)."""
        worker = version / "bench" / "scale_bench.py" if version is not None else None
        if worker is None or not worker.is_file():
            return None
        p = self.prepared
        run = subprocess.run(
            [sys.executable, str(worker), "--worker", "plan", "--specs", str(p.specs), "--db", str(p.db)],
            capture_output=True,
            text=True,
            check=False,
            cwd=worker.parent,
            env={**os.environ, "PYTHONPATH": str(version)},
            timeout=900,
        )
        if run.returncode != 0:
            print(f"  (the previous release's plan worker failed: {run.stderr[-500:]})")
            return None
        return int(json.loads(run.stdout)["round_trips"])


def bound(run: PlanRun) -> tuple[int, float]:
    chain = max(-(-run.round_trips // READ_CONCURRENCY), run.chain)
    return chain, chain * LATENCY_S


def previous_bound(round_trips: int | None) -> float | None:
    """The lower bound of a plan making ``round_trips`` independent reads (None: not measured)."""
    return None if round_trips is None else -(-round_trips // READ_CONCURRENCY) * LATENCY_S


def previous_release(where: Path) -> Path | None:
    """The previous release's source, exported from git (None: no such tag here)."""
    tree = where / PREVIOUS_TAG
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_TAG], capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def startup(version: Path | None, work: Path, repeat: int) -> tuple[float, float]:
    """Median wall of ``reconciler --help`` and of ``reconciler validate specs/`` (the shipped examples)."""
    work.mkdir(parents=True, exist_ok=True)
    env = {"RECONCILER_CACHE_DIR": str(work / "cache")}
    helps = [command(version, "--help", cwd=work, env=env, out=work / "help.out").wall_s for _ in range(repeat)]
    specs = str((version or ROOT) / "specs")
    command(version, "validate", specs, cwd=work, env=env, out=work / "validate.out")  # fills the cache
    validates = [
        command(version, "validate", specs, cwd=work, env=env, out=work / "validate.out").wall_s for _ in range(repeat)
    ]
    return statistics.median(helps), statistics.median(validates)


def verdict(ok: bool) -> str:
    return "YES" if ok else "NO"


def ratio(now: float, before: float | None) -> str:
    if not before:
        return "-"
    shown = f"{before:,.0f}" if before >= 100 else f"{before:.3g}"
    return f"{shown} ({now / before:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=f"100,{TARGET_TENANTS},{BIG_TENANTS}", help="tenant counts for RSS")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--no-previous", action="store_true", help="skip the previous release")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-read-per-resource baseline")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {TARGET_TENANTS})
    started = time.perf_counter()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; 20 ms per round trip; median of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="reconciler-cli-") as tmp_name:
        tmp = Path(tmp_name)
        previous = None if args.no_previous else previous_release(tmp / "release")
        if not args.no_previous and previous is None:
            print(f"(no {PREVIOUS_TAG} tag here: the previous release's figures are left out)")
        rows, checks = measure(tmp, sizes, previous, args)
    print()
    print_table(["figure", "now", f"{PREVIOUS_TAG} (now/then)", "target", "met"], rows)
    print()
    print("targets met:", sum(1 for ok in checks if ok), "of", len(checks))
    print(f"(CLI benchmark took {time.perf_counter() - started:.0f} s)")


def measure(
    tmp: Path, sizes: list[int], previous: Path | None, args: argparse.Namespace
) -> tuple[list[list[str]], list[bool]]:
    rows: list[list[str]] = []
    checks: list[bool] = []

    def row(figure: str, now: str, then: str, target: str, ok: bool | None) -> None:
        rows.append([figure, now, then, target, "" if ok is None else verdict(ok)])
        if ok is not None:
            checks.append(ok)
        print(f"  {figure}: {now}" + (f" (then {then})" if then != "-" else ""), flush=True)

    help_s, validate_s = startup(None, tmp / "startup" / "current", args.repeat * 3)
    help_then, validate_then = startup(previous, tmp / "startup" / "previous", args.repeat) if previous else (0, 0)
    row("reconciler --help, s", f"{help_s:.3f}", ratio(help_s, help_then), f"<= {HELP_S}", help_s <= HELP_S)
    row(
        "validate specs/, s",
        f"{validate_s:.3f}",
        ratio(validate_s, validate_then),
        f"<= {VALIDATE_S}",
        validate_s <= VALIDATE_S,
    )

    for tenants in sizes:
        print(f"\n{tenants:,} tenants (shared directory): generating ...", flush=True)
        estate = Estate(tmp / f"shared-{tenants}", tenants, shared=True)
        main_size = tenants == TARGET_TENANTS
        repeat = args.repeat if main_size else 1
        verbs = ("plan", "drift") if main_size else ("plan",)
        now = estate.run(None, verbs, repeat=repeat)
        before = estate.run(previous, verbs, repeat=1) if previous and tenants <= TARGET_TENANTS else {}
        cold, plan = now["plan"]
        then = before["plan"][1] if before else None
        if not main_size:
            target = f"<= {BIG_RSS_MB:g}" if tenants == BIG_TENANTS else ""
            ok = plan.rss_mb <= BIG_RSS_MB if tenants == BIG_TENANTS else None
            row(
                f"plan at {tenants:,}: peak RSS, MB",
                f"{plan.rss_mb:.0f}",
                ratio(plan.rss_mb, then.rss_mb if then else None),
                target,
                ok,
            )
            row(
                f"plan at {tenants:,}: wall, s",
                f"{plan.wall_s:.2f}",
                ratio(plan.wall_s, then.wall_s if then else None),
                "",
                None,
            )
            continue
        drift = now["drift"][1]
        drift_then = before["drift"][1] if before else None
        row(
            "plan at 1,000: wall, s",
            f"{plan.wall_s:.2f}",
            ratio(plan.wall_s, then.wall_s if then else None),
            f"<= {PLAN_WALL_S:g}",
            plan.wall_s <= PLAN_WALL_S,
        )
        row("plan at 1,000: wall, first run (no parse cache), s", f"{cold.wall_s:.2f}", "-", "", None)
        row(
            "plan at 1,000: CPU, s",
            f"{plan.cpu_s:.2f}",
            ratio(plan.cpu_s, then.cpu_s if then else None),
            f"<= {PLAN_CPU_S:g}",
            plan.cpu_s <= PLAN_CPU_S,
        )
        row(
            "plan at 1,000: peak RSS, MB",
            f"{plan.rss_mb:.0f}",
            ratio(plan.rss_mb, then.rss_mb if then else None),
            f"<= {PLAN_RSS_MB:g}",
            plan.rss_mb <= PLAN_RSS_MB,
        )
        over = drift.wall_s / plan.wall_s - 1
        row(
            "drift at 1,000: wall, s",
            f"{drift.wall_s:.2f} ({over:+.0%} of plan)",
            ratio(drift.wall_s, drift_then.wall_s if drift_then else None),
            f"plan +{DRIFT_WITHIN:.0%}",
            over <= DRIFT_WITHIN,
        )
        shared = estate.round_trips()
        chain, bound_s = bound(shared)
        shared_then = estate.previous_round_trips(previous)
        row(
            "round trips at 1,000, shared directory",
            f"{shared.round_trips:,}",
            ratio(shared.round_trips, shared_then),
            f"<= {SHARED_ROUND_TRIPS}",
            shared.round_trips <= SHARED_ROUND_TRIPS,
        )
        row(
            "lower bound at 1,000, shared directory, s",
            f"{bound_s:.2f} ({chain} on the critical path)",
            ratio(bound_s, previous_bound(shared_then)),
            "",
            None,
        )
        print(f"\n{tenants:,} tenants (CSP: each its own directory): generating ...", flush=True)
        csp_estate = Estate(tmp / f"csp-{tenants}", tenants, shared=False)
        csp, csp_then = csp_estate.round_trips(), csp_estate.previous_round_trips(previous)
        chain, bound_s = bound(csp)
        row("round trips at 1,000, CSP directories", f"{csp.round_trips:,}", ratio(csp.round_trips, csp_then), "", None)
        row(
            "lower bound at 1,000, CSP directories, s",
            f"{bound_s:.2f} ({chain} on the critical path)",
            ratio(bound_s, previous_bound(csp_then)),
            "",
            None,
        )
        if not args.no_baseline:
            p = estate.prepared
            base = PlanRun.of(run_worker("baseline", "--specs", str(p.specs), "--db", str(p.db)))
            speedup = base.wall_s / plan.wall_s
            row(
                "Terraform-style baseline at 1,000 / CLI plan",
                f"{speedup:.1f}x ({base.wall_s:.1f} s)",
                "-",
                f">= {SPEEDUP:g}x",
                speedup >= SPEEDUP,
            )
    return rows, checks


if __name__ == "__main__":
    main()
