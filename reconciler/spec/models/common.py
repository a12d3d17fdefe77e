"""Building blocks shared by every kind: the model base, metadata, lifecycle knobs, typed scalars.

Conventions: camelCase keys in YAML (snake_case in Python), frozen models, unknown keys rejected.
Field descriptions are written for operators: they appear in editor tooltips (JSON Schema) and as
the explanation in validation diagnostics.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from reconciler.core import units
from reconciler.spec import naming


class SpecModel(BaseModel):
    """Base of every spec model: strict about unknown keys, immutable, camelCase on the outside."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    OBSERVE = "observe"


FieldRef = Annotated[
    str,
    Field(
        pattern=r"^(\*|[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*)$",
        description="a dotted field path, e.g. memory.priority; * accepts every difference of the item",
    ),
]


class Lifecycle(SpecModel):
    """How the engine may treat the resources an item stands for."""

    protect: bool = Field(False, description="never delete, even with --prune")
    prune: bool = Field(False, description="may be deleted when removed from the specs and the run says --prune")
    ignore_fields: tuple[FieldRef, ...] = Field((), description="fields whose live value is never changed or reported")
    mode: Mode = Field(Mode.ENFORCE, description="enforce: converge; observe: read and report, never change")
    adopt: bool = Field(
        False,
        description="take over an existing object made outside reconciler: apply marks it as the tool's (tags, "
        "ownership ledger) and changes nothing else",
    )


class Managed(SpecModel):
    """Mixin for every named item that becomes a resource: it carries the lifecycle knobs."""

    lifecycle: Lifecycle | None = Field(None, description="protect / prune / ignoreFields / mode for this item")


# --- typed scalars -------------------------------------------------------------------------------

# Names follow the naming rules of the system that holds them (spec/naming.py): a break is reported with
# the rule's own code (name.azure-storage-account, name.dns-host, ...) and the rule as the fix.
DocName = Annotated[str, naming.DOCUMENT]
DisplayName = Annotated[str, naming.VMM_OBJECT]
VmName = Annotated[str, naming.HYPERV_VM]
Guid = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="a GUID such as 00000000-0000-0000-0000-000000000000",
    ),
]
AzureRegion = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9]+$", description="an Azure region's programmatic name, e.g. westus, northeurope"),
]
ResourceGroupName = Annotated[str, naming.AZURE_RESOURCE_GROUP]
StorageAccountName = Annotated[str, naming.AZURE_STORAGE_ACCOUNT]
VirtualNetworkName = Annotated[str, naming.AZURE_VIRTUAL_NETWORK]
SubnetName = Annotated[str, naming.AZURE_SUBNET]
VaultName = Annotated[str, naming.AZURE_RECOVERY_VAULT]
PolicyName = Annotated[str, naming.ASR_POLICY]
RecoveryPlanName = Annotated[str, naming.ASR_RECOVERY_PLAN]
HostName = Annotated[str, naming.DNS_HOST]
WindowsHostName = Annotated[str, naming.NETBIOS_HOST]
VmSize = Annotated[
    str, Field(pattern=r"^(Standard|Basic)_[A-Za-z0-9_]+$", description="an Azure VM size, e.g. Standard_D2s_v3")
]
Vlan = Annotated[int, Field(ge=0, le=4094, description="VLAN id, 0 for untagged")]
Port = Annotated[int, Field(ge=1, le=65535)]


def _memory(value: Any) -> int:
    try:
        return units.parse_memory_mb(value)
    except ValueError as exc:
        raise PydanticCustomError("memory_size", "{reason}", {"reason": str(exc)}) from exc


MemoryMB = Annotated[
    int,
    BeforeValidator(_memory),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([MGT]i?B?|[mgt]i?b?)?\s*$"},
            ],
            "description": "memory size: a number of MB or a value with a unit (512MiB, 2GiB)",
        }
    ),
]


def _duration(value: Any) -> int:
    try:
        return units.parse_duration_seconds(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{reason}", {"reason": str(exc)}) from exc


DurationSeconds = Annotated[
    int,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^(\d+\s*[smhd])+$"}],
            "description": "a duration: seconds or e.g. 4h, 90m, 1h30m",
        }
    ),
]


# An IPv4 network written the way ipaddress prints it (no leading zeros, a prefix length): the common
# case, checked without building an ipaddress object (a large tree holds tens of thousands of subnets).
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_CANONICAL_V4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}/(?:3[0-2]|[12]?\d)", re.ASCII)


def _canonical_v4_network(value: str) -> bool:
    """Whether ``value`` is an IPv4 network exactly as ``str(ipaddress.ip_network(value))`` writes it."""
    if _CANONICAL_V4.fullmatch(value) is None:
        return False
    address, prefix = value.split("/")
    a, b, c, d = (int(octet) for octet in address.split("."))
    host_bits = 32 - int(prefix)
    return ((a << 24 | b << 16 | c << 8 | d) & ((1 << host_bits) - 1)) == 0


def _network(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("cidr", "expected a network in CIDR form such as 10.0.1.0/24")
    if _canonical_v4_network(value):
        return value
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        text = str(exc)
        if "has host bits set" in text:
            fixed = ipaddress.ip_network(value.strip(), strict=False)
            raise PydanticCustomError(
                "cidr", "{value} has host bits set; the network is {fixed}", {"value": value, "fixed": str(fixed)}
            ) from exc
        raise PydanticCustomError(
            "cidr", "'{value}' is not a network in CIDR form (10.0.1.0/24)", {"value": value}
        ) from exc
    return str(net)


Cidr = Annotated[
    str,
    BeforeValidator(_network),
    WithJsonSchema({"type": "string", "description": "a network in CIDR form, e.g. 10.0.1.0/24"}),
]


def _address(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("ip_address", "expected an IP address such as 10.0.0.1")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise PydanticCustomError("ip_address", "'{value}' is not an IP address", {"value": value}) from exc


IpAddress = Annotated[
    str,
    BeforeValidator(_address),
    WithJsonSchema({"type": "string", "description": "an IP address, e.g. 10.0.0.1"}),
]


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://", value):
        raise PydanticCustomError("url", "expected an http(s) URL such as https://10.0.0.21")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError as exc:  # an unclosed [IPv6 literal, a port that is not a number
        raise PydanticCustomError("url", "not a valid URL: {reason}", {"reason": str(exc)}) from exc
    if parts.username or parts.password:
        raise PydanticCustomError(
            "secret_in_url",
            "the URL carries credentials; specs never hold secrets",
        )
    if not hostname:
        raise PydanticCustomError("url", "the URL has no host")
    return value


Url = Annotated[
    str,
    BeforeValidator(_url),
    WithJsonSchema({"type": "string", "pattern": "^https?://", "description": "an http(s) URL without credentials"}),
]


class Metadata(SpecModel):
    name: DocName
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


ApiVersion = Literal["reconciler/v1"]
