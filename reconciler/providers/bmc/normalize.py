"""A BMC's BIOS (``model.BiosState``) -> the engine's normalized ``bmc.bios`` object. Pure.

Data: ``vendor`` (the spec's: a mismatch with the server's manufacturer is refused when the BMC is opened) and
every current ``attributes`` value as text, as the PowerProfile's desired shape holds them (the planner
compares only the attributes the spec names: ``SysProfile``, ``PowerRegulator``, ``WorkloadProfile``...).
Status: ``pending`` (staged for the next reset, the same text form), the attribute ``registry``, and the BIOS
configuration ``job`` while one is known (Dell: ``{id, state, percent, message}``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.resources import Observed
from reconciler.providers.bmc.model import AttributeValue, BiosState, Job


def text(value: AttributeValue) -> str:
    """An attribute value as the spec side holds it (``engine.expand`` writes every value with ``str``)."""
    return str(value)


def attributes(values: Mapping[str, AttributeValue]) -> dict[str, str]:
    return {name: text(value) for name, value in values.items()}


def bios(address: Address, vendor: str, state: BiosState, job: Job | None = None) -> Observed:
    data = {"vendor": vendor, "attributes": attributes(state.attributes)}
    status: dict[str, Any] = {"pending": attributes(state.pending), "registry": state.registry_id}
    if job is not None:
        status["job"] = {"id": job.id, "state": job.state.value, "percent": job.percent, "message": job.message}
    digest = json.dumps({"data": data, "pending": status["pending"]}, sort_keys=True)
    return Observed(address=address, data=data, status=status, version=hashlib.sha256(digest.encode()).hexdigest()[:16])
