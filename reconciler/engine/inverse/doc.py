"""One generated spec document: what import writes for a site, a tenant or a profile, with a note on each value
the estate did not hold (the spec needs one; the note says where it came from and what to check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]
API_VERSION = "reconciler/v1"


@dataclass
class Generated:
    kind: str
    name: str
    file: str  # where it is written, relative to the output folder: sites/NAME.yaml, tenants/NAME.yaml...
    spec: dict[str, Any]
    notes: dict[Path, str] = field(default_factory=dict)  # ("spec", "plan", "allowedVmSizes") -> why

    def document(self) -> dict[str, Any]:
        return {"apiVersion": API_VERSION, "kind": self.kind, "metadata": {"name": self.name}, "spec": self.spec}

    def note(self, path: Path, why: str) -> None:
        self.notes[("spec", *path)] = why
