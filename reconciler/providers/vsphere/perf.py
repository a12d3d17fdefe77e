"""CPU ready from vCenter's performance manager: how long vCPUs waited for a physical CPU.

``cpu.ready.summation`` is milliseconds of ready time per sample, summed over the entity's vCPUs. With
the real-time interval of 20 s: percent = ms / (20 x 1000) x 100, and per vCPU that figure divided by the
VM's vCPU count (vSphere's own charts show the summed figure; ~5% per vCPU is where users notice, 10%
is a problem). Hosts report the sum over everything they run, so a host figure is not divided.

One ``QueryPerf`` call reads a window of samples for many entities at once (in batches, since vCenter
limits a query's size). The counter's key is looked up by name in ``perfManager.perfCounter``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from reconciler.core.errors import PermanentError
from reconciler.providers.vsphere.faults import boundary
from reconciler.providers.vsphere.hosts import managed_object
from reconciler.providers.vsphere.inventory import HostInfo, VmInfo
from reconciler.providers.vsphere.session import Session

READY_COUNTER = "cpu.ready.summation"
REALTIME_INTERVAL_S = 20
BATCH = 100  # entities per QueryPerf call


class EntityKind(enum.StrEnum):
    HOST = "host"
    VM = "vm"


@dataclass(frozen=True)
class CpuReady:
    """CPU ready of one host or VM over a window of samples (oldest first)."""

    name: str
    kind: EntityKind
    samples_ms: tuple[int, ...]
    interval_s: int
    vcpus: int | None  # VMs: the vCPU count the per-vCPU figure divides by

    @property
    def percent(self) -> float | None:
        """Average over the window (None: no samples, e.g. a VM that was off)."""
        if not self.samples_ms:
            return None
        return sum(ready_percent(ms, self.interval_s) for ms in self.samples_ms) / len(self.samples_ms)

    @property
    def peak_percent(self) -> float | None:
        return max((ready_percent(ms, self.interval_s) for ms in self.samples_ms), default=None)

    @property
    def per_vcpu_percent(self) -> float | None:
        """The average divided by the vCPU count (VMs only)."""
        average = self.percent
        if average is None or not self.vcpus:
            return None
        return average / self.vcpus


def ready_percent(ms: float, interval_s: int = REALTIME_INTERVAL_S) -> float:
    """Ready milliseconds of one sample as a percent of the sample's interval."""
    return ms / (interval_s * 1000) * 100


def cpu_ready(
    session: Session,
    *,
    hosts: Sequence[HostInfo] = (),
    vms: Sequence[VmInfo] = (),
    samples: int = 15,
    interval_s: int = REALTIME_INTERVAL_S,
) -> list[CpuReady]:
    """CPU ready of the hosts and VMs over the last ``samples`` samples (15 x 20 s = the last 5 minutes)."""
    key = session.counter_key(READY_COUNTER)
    if key is None:
        raise PermanentError(f"vCenter {session.server}: no {READY_COUNTER} performance counter", code="NoCounter")
    entities: list[tuple[Any, str, EntityKind, int | None]] = [
        (managed_object(session, vim.HostSystem, h.moid), h.name, EntityKind.HOST, None) for h in hosts
    ]
    entities += [(managed_object(session, vim.VirtualMachine, v.moid), v.name, EntityKind.VM, v.vcpus) for v in vms]
    metric = vim.PerformanceManager.MetricId(counterId=key, instance="")
    found: dict[str, tuple[int, ...]] = {}
    for start in range(0, len(entities), BATCH):
        batch = entities[start : start + BATCH]
        specs = [
            vim.PerformanceManager.QuerySpec(entity=obj, metricId=[metric], intervalId=interval_s, maxSample=samples)
            for obj, *_ in batch
        ]
        with boundary(server=session.server, action="reading CPU ready (QueryPerf)"):
            answer = session.content.perfManager.QueryPerf(querySpec=specs)
        for entity_metric in answer or []:
            found[entity_metric.entity._moId] = _samples(entity_metric, key)
    return [
        CpuReady(name=name, kind=kind, samples_ms=found.get(obj._moId, ()), interval_s=interval_s, vcpus=vcpus)
        for obj, name, kind, vcpus in entities
    ]


def _samples(entity_metric: Any, key: int) -> tuple[int, ...]:
    """The aggregate series (instance "") of the counter, ordered oldest first by the samples' timestamps."""
    series = next(
        (s for s in entity_metric.value or [] if s.id.counterId == key and not s.id.instance),
        None,
    )
    if series is None:
        return ()
    stamps = [info.timestamp for info in entity_metric.sampleInfo or []]
    values = [int(v) for v in series.value or []]
    if len(stamps) == len(values):
        values = [v for _, v in sorted(zip(stamps, values, strict=True), key=lambda pair: pair[0])]
    return tuple(max(v, 0) for v in values)  # -1 marks a sample vCenter has no data for
