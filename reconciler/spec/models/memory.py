"""``kind: MemoryProfile``: Hyper-V memory settings shared by many VMs (or written inline on a VM).

Maps onto ``Msvm_MemorySettingData``: startup = VirtualQuantity, minimum = Reservation,
maximum = Limit, bufferPercent = TargetMemoryBuffer, priority = Weight / 100.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.spec.models.common import ApiVersion, MemoryMB, Metadata, SpecModel


class MemorySettings(SpecModel):
    dynamic: bool = Field(description="dynamic memory on or off (turning it on or off needs the VM off)")
    startup: MemoryMB | None = Field(
        None, description="startup memory (what the guest sees at boot); defaults to maximum with reportMaximumAtBoot"
    )
    minimum: MemoryMB | None = Field(None, description="minimum memory (dynamic only)")
    maximum: MemoryMB | None = Field(None, description="maximum memory (dynamic only)")
    buffer_percent: int = Field(20, ge=5, le=2000, description="memory buffer percent, 5-2000 (Set-VMMemory -Buffer)")
    priority: int = Field(50, ge=0, le=100, description="memory weight 0-100 (Set-VMMemory -Priority)")
    report_maximum_at_boot: bool = Field(
        False,
        description=(
            "boot with startup = maximum and reservation = minimum, so the guest reports the maximum at boot "
            "while the host reclaims unused memory; dynamic memory only"
        ),
    )

    @property
    def boot_size(self) -> int | None:
        """The startup size in effect: ``startup``, or the maximum with reportMaximumAtBoot when startup is
        omitted (the one place that default is decided; None: not set)."""
        if self.startup is not None:
            return self.startup
        return self.maximum if self.report_maximum_at_boot else None


class MemoryProfileDocument(SpecModel):
    api_version: ApiVersion
    kind: Literal["MemoryProfile"]
    metadata: Metadata
    spec: MemorySettings
