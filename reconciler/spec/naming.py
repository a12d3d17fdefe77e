"""The naming rules of the real systems, one per kind of name, each with its diagnostic code: what Azure,
VMM, Hyper-V, DNS and NetBIOS accept, checked before anything is sent to them.

A rule is data (:class:`NameRule`): lengths, the characters allowed (or refused), how a name may start and
end, and where the rule comes from. The models use each as field metadata (``Annotated[str, RULE]``), so the error
points at the field, the generated JSON Schemas carry an approximation of it to editors, and
``spec/errors.py`` turns a break into a diagnostic whose code names the rule (``name.azure-storage-account``)
and whose fix states it. docs/validation.md lists every rule with its source.

Control characters and bidirectional controls are refused in every string of every spec before this
(``spec/characters.py``); these rules come on top, per field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from reconciler.core.text import describe_char, quoted

AZURE_TABLE = "Microsoft, Naming rules and restrictions for Azure resources"
_WHOLE: dict[str, re.Pattern[str]] = {}  # code -> a pattern for a whole name of allowed characters
WINDOWS_FILE_NAMES = '\\/:*?"<>|'


@dataclass(frozen=True, slots=True)
class NameRule:
    """One system's rule for one kind of name."""

    code: str
    system: str  # the kind of name, for messages: "Azure storage account"
    summary: str  # the rule in words, for the fix
    source: str  # where the rule is documented
    min_length: int
    max_length: int
    json_pattern: str  # an ECMA-262 approximation for editors
    allowed: re.Pattern[str] | None = None  # one allowed character; None: any character not refused
    refused: str = ""
    first: re.Pattern[str] | None = None
    last: re.Pattern[str] | None = None
    no_outer_spaces: bool = False
    extra: Callable[[str], str | None] | None = None
    base: NameRule | None = None  # a rule this one narrows: a break of it is reported as its own

    def broken(self, value: str) -> tuple[NameRule, str] | None:
        """The rule ``value`` breaks (this one or its base) and how, or None."""
        if self.base is not None:
            found = self.base.broken(value)
            if found is not None:
                return found
        problem = self.problem(value)
        return None if problem is None else (self, problem)

    def problem(self, value: str) -> str | None:
        """What in ``value`` breaks the rule (one reason, the first found), or None."""
        if not self.min_length <= len(value) <= self.max_length:
            bounds = f"{self.min_length}-{self.max_length}" if self.min_length > 1 else f"at most {self.max_length}"
            return f"it is {len(value)} characters long ({bounds} allowed)"
        if self._pattern().fullmatch(value) is None:  # the common case, a good name, in one regex call
            return self.character_problem(value) or "it does not follow the rule"
        return self.extra(value) if self.extra is not None else None

    def character_problem(self, value: str) -> str | None:
        """The characters of a non-empty ``value`` checked one by one, saying which breaks the rule (what
        :meth:`_pattern` answers at once, without saying where)."""
        for i, char in enumerate(value):
            if char in self.refused or (self.allowed is not None and not self.allowed.fullmatch(char)):
                return f"{_char(char)} at character {i + 1} is not allowed"
        if self.no_outer_spaces and value != value.strip():
            return "it starts or ends with a space"
        if self.first is not None and not self.first.fullmatch(value[0]):
            return f"it starts with {_char(value[0])}"
        if self.last is not None and not self.last.fullmatch(value[-1]):
            return f"it ends with {_char(value[-1])}"
        return None

    def _pattern(self) -> re.Pattern[str]:
        """The whole rule but its lengths and ``extra`` as one regex (built on first use, kept per code):
        thousands of names are checked per load, nearly all of them good."""
        pattern = _WHOLE.get(self.code)
        if pattern is None:
            char = f"(?:{self.allowed.pattern})" if self.allowed is not None else "."
            if self.refused:
                char = f"(?![{re.escape(self.refused)}]){char}"
            start = (f"(?={self.first.pattern})" if self.first else "") + (r"(?!\s)" if self.no_outer_spaces else "")
            end = (f"(?<={self.last.pattern})" if self.last else "") + (r"(?<!\s)" if self.no_outer_spaces else "")
            pattern = _WHOLE[self.code] = re.compile(f"{start}(?:{char})*{end}", re.DOTALL)
        return pattern

    @property
    def hint(self) -> str:
        return f"{self.system} names: {self.summary} ({self.source})"

    def validate(self, value: str) -> str:
        """For pydantic: ``value`` itself, or a ``name_rule`` error carrying the code and the fix."""
        found = self.broken(value)
        if found is None:
            return value
        rule, problem = found
        raise PydanticCustomError(
            "name_rule",
            "{value} breaks the {system} naming rule: {problem}",
            {"value": quoted(value), "system": rule.system, "problem": problem, "code": rule.code, "hint": rule.hint},
        )

    # A rule is pydantic metadata: ``Annotated[str, RULE]`` is a string field that must follow it.
    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return self.json_schema()

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.json_pattern,
            "description": self.hint,
        }


def _char(char: str) -> str:
    return f"{char!r}" if char.isprintable() else describe_char(char)


def _dns_labels(value: str) -> str | None:
    """RFC 1123 host names: dot-separated labels of 1-63 letters, digits and hyphens, no hyphen at either end."""
    for label in value.split("."):
        if not label:
            return "it has an empty label (two dots, or a dot at either end)"
        if len(label) > 63:
            return f"label {label[:20]!r}… is {len(label)} characters long (at most 63)"
        if label.startswith("-") or label.endswith("-"):
            return f"label {label!r} starts or ends with a hyphen"
    return None


def _netbios(value: str) -> str | None:
    """A Windows computer name is the host name's first label, and that is a NetBIOS name."""
    computer = value.split(".", maxsplit=1)[0]
    if len(computer) > 15:
        return f"its computer name {computer!r} is {len(computer)} characters long (NetBIOS: at most 15)"
    if computer.isdigit():
        return f"its computer name {computer!r} is only digits"
    return None


_ALNUM = re.compile(r"[A-Za-z0-9]")
_LETTER = re.compile(r"[A-Za-z]")

AZURE_RESOURCE_GROUP = NameRule(
    code="name.azure-resource-group",
    system="Azure resource group",
    summary="1-90 letters, digits, underscores, parentheses, hyphens and periods, not ending with a period",
    source=f"{AZURE_TABLE}, Microsoft.Resources/resourcegroups",
    min_length=1,
    max_length=90,
    allowed=re.compile(r"[\w().-]"),  # \w: Unicode letters and digits, as Azure accepts
    last=re.compile(r"[^.]"),
    json_pattern=r"^[-\w._()]*[-\w_()]$",
)
AZURE_STORAGE_ACCOUNT = NameRule(
    code="name.azure-storage-account",
    system="Azure storage account",
    summary="3-24 lowercase letters and digits (unique across Azure)",
    source=f"{AZURE_TABLE}, Microsoft.Storage/storageAccounts",
    min_length=3,
    max_length=24,
    allowed=re.compile(r"[a-z0-9]"),
    json_pattern=r"^[a-z0-9]{3,24}$",
)
AZURE_VIRTUAL_NETWORK = NameRule(
    code="name.azure-virtual-network",
    system="Azure virtual network",
    summary="2-64 letters, digits, underscores, periods and hyphens, starting with a letter or digit and "
    "ending with a letter, digit or underscore",
    source=f"{AZURE_TABLE}, Microsoft.Network/virtualNetworks",
    min_length=2,
    max_length=64,
    allowed=re.compile(r"[A-Za-z0-9_.-]"),
    first=_ALNUM,
    last=re.compile(r"[A-Za-z0-9_]"),
    json_pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$",
)
AZURE_SUBNET = NameRule(
    code="name.azure-subnet",
    system="Azure subnet",
    summary="1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and "
    "ending with a letter, digit or underscore",
    source=f"{AZURE_TABLE}, Microsoft.Network/virtualNetworks/subnets",
    min_length=1,
    max_length=80,
    allowed=re.compile(r"[A-Za-z0-9_.-]"),
    first=_ALNUM,
    last=re.compile(r"[A-Za-z0-9_]"),
    json_pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$",
)
AZURE_RECOVERY_VAULT = NameRule(
    code="name.azure-recovery-vault",
    system="Recovery Services vault",
    summary="2-50 letters, digits and hyphens, starting with a letter",
    source=f"{AZURE_TABLE}, Microsoft.RecoveryServices/vaults",
    min_length=2,
    max_length=50,
    allowed=re.compile(r"[A-Za-z0-9-]"),
    first=_LETTER,
    json_pattern=r"^[A-Za-z][A-Za-z0-9-]{1,49}$",
)
ASR_POLICY = NameRule(
    code="name.asr-policy",
    system="Site Recovery replication policy",
    summary="1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and "
    "ending with a letter, digit or underscore",
    source=f"{AZURE_TABLE} lists no rule for Site Recovery policies; this is the rule it gives other child "
    "resources, kept so the name travels in the ARM URL unchanged",
    min_length=1,
    max_length=80,
    allowed=re.compile(r"[A-Za-z0-9_.-]"),
    first=_ALNUM,
    last=re.compile(r"[A-Za-z0-9_]"),
    json_pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$",
)

ASR_RECOVERY_PLAN = NameRule(
    code="name.asr-recovery-plan",
    system="Site Recovery recovery plan",
    summary="1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and "
    "ending with a letter, digit or underscore",
    source=f"{AZURE_TABLE} lists no rule for Site Recovery recovery plans; this is the rule it gives other child "
    "resources, kept so the name travels in the ARM URL unchanged",
    min_length=1,
    max_length=80,
    allowed=re.compile(r"[A-Za-z0-9_.-]"),
    first=_ALNUM,
    last=re.compile(r"[A-Za-z0-9_]"),
    json_pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$",
)
HYPERV_VM = NameRule(
    code="name.hyperv-vm",
    system="Hyper-V virtual machine",
    summary=f"1-100 characters, none of {WINDOWS_FILE_NAMES}, not starting or ending with a space nor ending "
    "with a period",
    source="Hyper-V: up to 100 characters in practice; the VM's files live in a folder of its name, so the "
    "characters Windows refuses in file names are refused",
    min_length=1,
    max_length=100,
    refused=WINDOWS_FILE_NAMES,
    no_outer_spaces=True,
    last=re.compile(r"[^.]"),
    json_pattern=r'^[^\\/:*?"<>|\s]([^\\/:*?"<>|]*[^\\/:*?"<>|.\s])?$',
)
VMM_OBJECT = NameRule(
    code="name.vmm-object",
    system="VMM object",
    summary="1-256 characters, not starting or ending with a space",
    source="VMM keeps object names (clouds, networks, sites, pools, profiles, switches, plans) of up to 256 "
    "characters; spaces at either end would be kept but are invisible to a reader",
    min_length=1,
    max_length=256,
    no_outer_spaces=True,
    json_pattern=r"^\S(.*\S)?$",
)
DNS_HOST = NameRule(
    code="name.dns-host",
    system="DNS host",
    summary="at most 253 characters of dot-separated labels, each 1-63 letters, digits and hyphens with no "
    "hyphen at either end",
    source="RFC 1123, section 2.1, and RFC 1035",
    min_length=1,
    max_length=253,
    allowed=re.compile(r"[A-Za-z0-9.-]"),
    extra=_dns_labels,
    json_pattern=r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$",
)
NETBIOS_HOST = NameRule(
    code="name.netbios",
    system="Windows server",
    summary="the first label of the host name, the computer (NetBIOS) name, is at most 15 characters and "
    "not only digits",
    source="Microsoft, Naming conventions in Active Directory for computers: a NetBIOS computer name has at "
    "most 15 characters; Windows refuses a computer name made only of digits",
    min_length=1,
    max_length=253,
    extra=_netbios,
    base=DNS_HOST,
    json_pattern=r"^[A-Za-z0-9]([-A-Za-z0-9]{0,13}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$",
)
DOCUMENT = NameRule(
    code="name.document",
    system="document",
    summary="1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (a DNS "
    "label: it becomes part of resource addresses)",
    source="reconciler's own rule for metadata.name",
    min_length=1,
    max_length=63,
    allowed=re.compile(r"[a-z0-9-]"),
    first=re.compile(r"[a-z0-9]"),
    last=re.compile(r"[a-z0-9]"),
    json_pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
)

RULES: tuple[NameRule, ...] = (
    AZURE_RESOURCE_GROUP,
    AZURE_STORAGE_ACCOUNT,
    AZURE_VIRTUAL_NETWORK,
    AZURE_SUBNET,
    AZURE_RECOVERY_VAULT,
    ASR_POLICY,
    ASR_RECOVERY_PLAN,
    HYPERV_VM,
    VMM_OBJECT,
    DNS_HOST,
    NETBIOS_HOST,
    DOCUMENT,
)


__all__ = ["RULES", "NameRule"]
