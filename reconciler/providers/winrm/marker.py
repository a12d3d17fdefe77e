"""The ownership marker the tool writes on the VMM objects it creates, in their Description.

Why the Description and not a custom property: VMM's custom properties exist only for VMs, templates,
hosts, host groups, clusters, clouds and services (``New-SCCustomProperty -AddMember``), not for logical
networks, IP pools, port profiles, port classifications, logical switches or VM networks, which make up
most of what the tool creates; every one of those has a Description, and so has a cloud. One mechanism serves
them all, survives a VMM backup and restore, and an administrator sees it in the console. Objects without a
Description (a network site, a host's virtual switch) are recorded in the store's ownership ledger instead.

The marker is one bracketed line at the end of the Description, after whatever text the spec (a port
classification's ``description``) or an administrator wrote:

    Tenant NICs may not hand out addresses
    [reconciler: managed-by=reconciler; scope=contoso-west; prune=false; protect=true]

Pure functions: :func:`describe` writes it, :func:`parse` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TOOL = "reconciler"
_MARKER = re.compile(r"(?:\r?\n|^)\[reconciler:(?P<body>[^\]\r\n]*)\]\s*$")


@dataclass(frozen=True)
class Parsed:
    text: str  # the Description without the marker
    owned: bool  # the marker says managed-by=reconciler
    scope: str | None  # the site or tenant the marker names
    marker: dict[str, Any] | None  # {managedBy, prune, protect} as the embedded estate writes it; None unowned


def describe(text: str, *, scope: str, prune: bool, protect: bool) -> str:
    """``text`` (any earlier marker dropped) with the tool's marker line at its end."""
    body = parse(text).text.rstrip()
    line = f"[{TOOL}: managed-by={TOOL}; scope={scope}; prune={str(prune).lower()}; protect={str(protect).lower()}]"
    return f"{body}\n{line}" if body else line


def parse(description: str | None) -> Parsed:
    """The Description split into its text and the tool's marker (if the tool wrote one)."""
    value = description or ""
    match = _MARKER.search(value)
    if match is None:
        return Parsed(value, False, None, None)
    fields: dict[str, str] = {}
    for part in match.group("body").split(";"):
        key, sep, item = part.partition("=")
        if sep:
            fields[key.strip().casefold()] = item.strip()
    if fields.get("managed-by", "").casefold() != TOOL:
        return Parsed(value, False, None, None)  # a look-alike that is not the tool's is someone's text
    text = value[: match.start()]
    marker = {
        "managedBy": TOOL,
        "prune": fields.get("prune", "false").casefold() == "true",
        "protect": fields.get("protect", "false").casefold() == "true",
    }
    return Parsed(text, True, fields.get("scope") or None, marker)
