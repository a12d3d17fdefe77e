"""Memory settings are coherent: minimum <= startup <= maximum, the bounds dynamic memory needs, and
report-maximum-at-boot only where it means something (DOMAIN.md, Hyper-V dynamic memory)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from reconciler.core.diagnostics import Diagnostic, Severity
from reconciler.core.units import format_memory_mb
from reconciler.spec.loader import SpecDocument, SpecSet
from reconciler.spec.models.memory import MemorySettings
from reconciler.spec.yamlsource import FieldPath


def settings(doc: SpecDocument[Any], mem: MemorySettings, base: FieldPath) -> Iterator[Diagnostic]:
    """Rules for one block of memory settings at ``base`` (a profile's spec or a VM's inline memory)."""
    if mem.report_maximum_at_boot:
        yield from _report_maximum(doc, mem, base)
        if not mem.dynamic:
            return
    if not mem.dynamic:
        yield from _static(doc, mem, base)
        return
    yield from _dynamic(doc, mem, base)


def _report_maximum(doc: SpecDocument[Any], mem: MemorySettings, base: FieldPath) -> Iterator[Diagnostic]:
    if not mem.dynamic:
        yield doc.diagnostic(
            "memory.report-max-needs-dynamic",
            (*base, "reportMaximumAtBoot"),
            "reportMaximumAtBoot works only with dynamic memory",
            hint="set dynamic: true, or drop reportMaximumAtBoot",
        )
        return
    yield doc.diagnostic(
        "memory.report-max-overreports",
        (*base, "reportMaximumAtBoot"),
        "with reportMaximumAtBoot, Windows shows in-use memory as total minus available, which reads too high",
        hint="tell the tenant to judge memory pressure from the host's view, not the guest's Task Manager",
        severity=Severity.WARNING,
    )
    if mem.startup is not None and mem.maximum is not None and mem.startup != mem.maximum:
        yield doc.diagnostic(
            "memory.report-max-startup",
            (*base, "startup"),
            f"reportMaximumAtBoot boots at the maximum ({format_memory_mb(mem.maximum)}) "
            f"but startup is {format_memory_mb(mem.startup)}",
            hint="set startup equal to maximum, or omit startup",
        )


def _static(doc: SpecDocument[Any], mem: MemorySettings, base: FieldPath) -> Iterator[Diagnostic]:
    if mem.startup is None:
        yield doc.diagnostic(
            "memory.missing-startup",
            (*base, "startup"),
            "static memory needs a startup size",
            hint="add startup: e.g. 4GiB",
        )
    for field in ("minimum", "maximum"):
        if getattr(mem, field) is not None:
            yield doc.diagnostic(
                "memory.bounds-ignored",
                (*base, field),
                f"{field} applies only to dynamic memory; static memory uses startup alone",
                hint=f"remove {field}, or set dynamic: true",
                severity=Severity.WARNING,
            )


def _dynamic(doc: SpecDocument[Any], mem: MemorySettings, base: FieldPath) -> Iterator[Diagnostic]:
    for field in ("minimum", "maximum"):
        if getattr(mem, field) is None:
            yield doc.diagnostic(
                "memory.missing-bounds",
                (*base, field),
                f"dynamic memory needs a {field}",
                hint=f"add {field}: e.g. {'512MiB' if field == 'minimum' else '8GiB'}",
            )
    if mem.startup is None and not mem.report_maximum_at_boot:
        yield doc.diagnostic(
            "memory.missing-startup",
            (*base, "startup"),
            "dynamic memory needs a startup size",
            hint="add startup: e.g. 2GiB (or set reportMaximumAtBoot: true to boot at the maximum)",
        )
    startup, lo, hi = mem.boot_size, mem.minimum, mem.maximum
    if lo is not None and hi is not None and lo > hi:
        yield doc.diagnostic(
            "memory.order",
            (*base, "minimum"),
            f"minimum {format_memory_mb(lo)} is above maximum {format_memory_mb(hi)}",
            hint="minimum <= startup <= maximum",
        )
        return
    if startup is not None and lo is not None and startup < lo:
        yield doc.diagnostic(
            "memory.order",
            (*base, "startup"),
            f"startup {format_memory_mb(startup)} is below minimum {format_memory_mb(lo)}",
            hint="minimum <= startup <= maximum",
        )
    if startup is not None and hi is not None and startup > hi:
        yield doc.diagnostic(
            "memory.order",
            (*base, "startup"),
            f"startup {format_memory_mb(startup)} is above maximum {format_memory_mb(hi)}",
            hint="minimum <= startup <= maximum",
        )


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    for profile in specs.memory_profiles.values():
        yield from settings(profile, profile.model.spec, ("spec",))
    for tenant in specs.tenants.values():
        for i, vm in enumerate(tenant.model.spec.vms):
            base: FieldPath = ("spec", "vms", i)
            if vm.memory is not None and vm.memory_profile is not None:
                yield tenant.diagnostic(
                    "vm.memory-ambiguous",
                    (*base, "memory"),
                    f"VM {vm.name!r} has both memoryProfile and inline memory",
                    hint="keep one: a shared memoryProfile, or inline memory for this VM alone",
                )
            if vm.memory is not None:
                yield from settings(tenant, vm.memory, (*base, "memory"))
