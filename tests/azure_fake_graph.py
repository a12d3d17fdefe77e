"""Azure Resource Graph for the fake ARM (``tests/azure_fake.py``): ``POST /providers/Microsoft.ResourceGraph/
resources``. It answers the queries the provider sends (``reconciler/providers/azure/graph.py``), not Kusto: a table
(``Resources`` or ``ResourceContainers``), ``type =~ '<arm type>'``, optionally ``resourceGroup in~ (...)``, over
the named subscriptions, from the fake's own store, so every write the SDK makes through ARM shows in the next
query. Like the service: rows carry ``subscriptionId``, ``resourceGroup`` (lower case) and ``type`` (lower case),
at most ``$top`` rows a page with a ``$skipToken`` for the rest, and a query naming more than 1,000 subscriptions
is refused. ``refuse`` answers 403 ``AuthorizationFailed`` (a directory where Resource Graph is not allowed);
``queries`` records each query's subscriptions.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.azure_fake import FakeAzure, _Request, _Response

PATH = r"/providers/microsoft\.resourcegraph/resources"
MAX_SUBSCRIPTIONS = 1_000

_TYPE = re.compile(r"type\s*=~\s*'([^']+)'", re.I)
_GROUPS = re.compile(r"resourceGroup\s+in~\s*\(([^)]*)\)", re.I)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_SHAPES = {
    "microsoft.resources/subscriptions/resourcegroups": re.compile(r"/subscriptions/([^/]+)/resourcegroups/([^/]+)"),
    "microsoft.storage/storageaccounts": re.compile(
        r"/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.storage/storageaccounts/[^/]+"
    ),
    "microsoft.network/virtualnetworks": re.compile(
        r"/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.network/virtualnetworks/[^/]+"
    ),
}


class FakeGraph:
    def __init__(self, fake: FakeAzure) -> None:
        self.fake = fake
        self.refuse = False
        self.queries: list[list[str]] = []  # the subscriptions each query named, one entry per page

    def handle(self, req: _Request, _m: re.Match[str]) -> _Response:
        from tests.azure_fake import ArmError, _Response

        if req.method != "POST":
            raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on Resource Graph queries.")
        if self.refuse:
            raise ArmError(
                403,
                "AuthorizationFailed",
                "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read'.",
            )
        body = req.body or {}
        subscriptions = [str(s).casefold() for s in body.get("subscriptions") or []]
        if len(subscriptions) > MAX_SUBSCRIPTIONS:
            raise ArmError(400, "BadRequest", "Please provide below 1000 subscriptions.")
        self.queries.append(subscriptions)
        rows = self._rows(str(body.get("query", "")), set(subscriptions))
        options = body.get("options") or {}
        top = int(options.get("$top") or 100)
        start = int(options.get("$skipToken") or 0)
        page = rows[start : start + top]
        answer: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "false",
            "data": page,
            "facets": [],
        }
        if start + top < len(rows):
            answer["$skipToken"] = str(start + top)
        return _Response(200, answer)

    def _rows(self, query: str, subscriptions: set[str]) -> list[dict[str, Any]]:
        found = _TYPE.search(query)
        if found is None or found.group(1).casefold() not in _SHAPES:
            from tests.azure_fake import ArmError

            raise ArmError(400, "BadRequest", f"The fake Resource Graph cannot answer: {query}")
        arm_type = found.group(1).casefold()
        groups_match = _GROUPS.search(query)
        groups = (
            {g.replace("\\'", "'").casefold() for g in _QUOTED.findall(groups_match.group(1))} if groups_match else None
        )
        rows = []
        for key, obj in self.fake._store.items():
            shape = _SHAPES[arm_type].fullmatch(key)
            if shape is None or shape.group(1) not in subscriptions:
                continue
            if groups is not None and shape.group(2) not in groups:
                continue
            row = copy.deepcopy(obj)
            ref = re.match(r"/subscriptions/([^/]+)/resourcegroups/([^/]+)", str(obj.get("id", "")), re.I)
            row.update(
                type=arm_type,
                subscriptionId=ref.group(1) if ref else shape.group(1),
                resourceGroup=shape.group(2),
                tenantId="00000000-0000-0000-0000-000000000000",
            )
            rows.append(row)
        return sorted(rows, key=lambda r: str(r.get("id", "")).casefold())
