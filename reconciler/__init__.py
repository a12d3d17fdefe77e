"""reconciler: a declarative desired-state reconciler for SCVMM/Hyper-V, Azure Pack, vSphere and Azure Site Recovery.

The package is layered (see docs/architecture.md): ``core`` holds pure types, ``spec`` loads and validates
the YAML spec language, ``cli`` is the only layer that prints or exits.
"""

from __future__ import annotations

__version__ = "0.2.0"
API_VERSION = "reconciler/v1"
