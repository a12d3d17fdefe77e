"""The registry of kinds: kind name -> document model, and the schema file each one gets."""

from __future__ import annotations

from pydantic import BaseModel

from reconciler.spec.models.memory import MemoryProfileDocument
from reconciler.spec.models.power import PowerProfileDocument
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import TenantDocument

API_VERSIONS = ("reconciler/v1",)

KINDS: dict[str, type[BaseModel]] = {
    "Site": SiteDocument,
    "Tenant": TenantDocument,
    "MemoryProfile": MemoryProfileDocument,
    "PowerProfile": PowerProfileDocument,
}

SCHEMA_FILES: dict[str, str] = {
    "Site": "site.schema.json",
    "Tenant": "tenant.schema.json",
    "MemoryProfile": "memoryprofile.schema.json",
    "PowerProfile": "powerprofile.schema.json",
}
COMBINED_SCHEMA_FILE = "reconciler.schema.json"
