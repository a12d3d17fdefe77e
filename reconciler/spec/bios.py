"""BIOS power vocabulary: vendor-neutral profiles mapped to each vendor's attributes, and the values
each vendor accepts. The seed's lesson: Dell DBPM (PerfPerWattOptimizedDapc) raised CPU ready time above
20%; Maximum Performance fixed it; OS Control hands the policy to the hypervisor.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.spec.models.power import BiosProfile
from reconciler.spec.models.site import Vendor

# Attribute name -> accepted values, per vendor (Dell iDRAC Redfish registry; HPE iLO).
VENDOR_ATTRIBUTES: dict[Vendor, dict[str, frozenset[str]]] = {
    Vendor.DELL: {
        "SysProfile": frozenset(
            {"PerfPerWattOptimizedDapc", "PerfPerWattOptimizedOs", "PerfOptimized", "DenseCfgOptimized", "Custom"}
        ),
    },
    Vendor.HPE: {
        "PowerRegulator": frozenset({"OsControl", "StaticLowPower", "DynamicPowerSavings", "StaticHighPerf"}),
        "WorkloadProfile": frozenset(
            {
                "GeneralPowerEfficientCompute",
                "GeneralPeakFrequencyCompute",
                "GeneralThroughputCompute",
                "Virtualization-PowerEfficient",
                "Virtualization-MaxPerformance",
                "LowLatency",
                "MissionCritical",
                "TransactionalApplicationProcessing",
                "HighPerformanceCompute",
                "DecisionSupport",
                "GraphicProcessing",
                "I/OThroughput",
                "Custom",
            }
        ),
    },
    Vendor.GENERIC: {},
}

PROFILE_ATTRIBUTES: dict[Vendor, dict[BiosProfile, Mapping[str, str]]] = {
    Vendor.DELL: {
        BiosProfile.MAXIMUM_PERFORMANCE: {"SysProfile": "PerfOptimized"},
        BiosProfile.OS_CONTROLLED: {"SysProfile": "PerfPerWattOptimizedOs"},
        BiosProfile.POWER_SAVING: {"SysProfile": "PerfPerWattOptimizedDapc"},
        BiosProfile.DENSE_CONFIGURATION: {"SysProfile": "DenseCfgOptimized"},
    },
    Vendor.HPE: {
        BiosProfile.MAXIMUM_PERFORMANCE: {"PowerRegulator": "StaticHighPerf"},
        BiosProfile.OS_CONTROLLED: {"PowerRegulator": "OsControl"},
        BiosProfile.POWER_SAVING: {"PowerRegulator": "DynamicPowerSavings"},
    },
    Vendor.GENERIC: {},
}


def attributes_for(vendor: Vendor, profile: BiosProfile) -> Mapping[str, str] | None:
    """The vendor attributes that realise ``profile``, or None when the vendor has no such profile."""
    return PROFILE_ATTRIBUTES[vendor].get(profile)


def owner_of(attribute: str) -> Vendor | None:
    """The vendor whose registry defines ``attribute`` (None when no known vendor does)."""
    for vendor, attributes in VENDOR_ATTRIBUTES.items():
        if attribute in attributes:
            return vendor
    return None
