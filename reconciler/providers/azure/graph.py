"""Azure Resource Graph: a tenant-side kind listed for a whole Azure AD directory with one paged query.

Without it, a plan at a thousand tenants lists every tenant's resource groups, storage accounts and virtual
networks one subscription (or one resource group) at a time: three thousand round trips. Resource Graph answers
one query per kind over up to 300 subscriptions of one directory (``providers.graph_queries``; the identity signs
in to that directory), a page of ``PAGE_ROWS`` rows per round trip, the next page by its skip token. Its rows are the
objects as ARM returns them (``id``, ``name``, ``location``, ``tags``, ``properties``, ``sku``), so the kind's
normalization is the same as for a list call.

Where Resource Graph is not allowed (the identity may read the subscriptions but not query the graph, or the
``Microsoft.ResourceGraph`` provider is blocked: 403, or 400 ``BadRequest`` on a disabled feature), the provider
says so once and lists that directory per subscription for the rest of the run. ``RECONCILER_AZURE_RESOURCE_GRAPH=
off`` never queries it. Where customers delegate their subscriptions to the provider's directory with Azure
Lighthouse (CSP tenants, each in its own directory), ``RECONCILER_AZURE_GRAPH_DIRECTORY`` names that directory:
its queries see every delegated subscription, so all tenants share one query per kind (writes still sign in to
each tenant's directory). Resource Graph lags writes by seconds: the step that writes re-reads its object with a GET
first and after (``Handler.read_one``), so a lagging row can only make a plan show a change that the apply then
finds done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.errors import PermanentError
from reconciler.providers import graph_queries
from reconciler.providers.azure import arm
from reconciler.providers.azure.context import TenantRef

log = logging.getLogger(__name__)

PAGE_ROWS = graph_queries.PAGE_ROWS  # rows asked for per page (a test asks for fewer)

# kind -> (Resource Graph table, ARM type): what one query lists.
TABLES: Mapping[str, tuple[str, str]] = {
    "azure.resource_group": ("ResourceContainers", "microsoft.resources/subscriptions/resourcegroups"),
    "azure.storage_account": ("Resources", "microsoft.storage/storageaccounts"),
    "azure.virtual_network": ("Resources", "microsoft.network/virtualnetworks"),
}
_COLUMNS = "id, name, type, location, tags, properties, sku, kind, subscriptionId, resourceGroup"
# Answers that mean "not allowed here" (fall back to list calls), as opposed to a failure worth reporting.
_REFUSED_CODES = frozenset({"authorizationfailed", "forbidden", "disallowedprovider", "featurenotenabled"})


def batches(tenants: Iterable[TenantRef], *, directory: str | None = None) -> dict[str, str]:
    """Tenant name -> the read scope of the query listing its resources (``providers.graph_queries``)."""
    return graph_queries.query_scopes(((t.name, t.ad_tenant, t.subscription) for t in tenants), directory=directory)


def query_text(kind: str, resource_groups: Iterable[str] = ()) -> str:
    """The Kusto query listing ``kind`` (in ``resource_groups`` when given: names, any case)."""
    table, arm_type = TABLES[kind]
    text = f"{table} | where type =~ '{arm_type}'"
    groups = sorted({g.casefold() for g in resource_groups})
    if groups:
        text += f" | where resourceGroup in~ ({', '.join(_quoted(g) for g in groups)})"
    return f"{text} | project {_COLUMNS} | order by id asc"


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


class Graph:
    """The provider's Resource Graph queries for one run: on unless the settings turn it off, then off per
    directory once the directory refuses it."""

    def __init__(self, session: Any, *, enabled: bool, directory: str | None = None) -> None:
        self.session = session
        self.directory = directory  # the one directory every query signs in to (Lighthouse), or each tenant's
        self._batches = batches(session.context.tenants.values(), directory=directory) if enabled else {}
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def scope_of(self, tenant: TenantRef) -> str | None:
        """The read scope of the query covering ``tenant`` (None: list it per subscription)."""
        scope = self._batches.get(tenant.name)
        if scope is None:
            return None
        with self._lock:
            refused = (self.directory or tenant.ad_tenant).casefold() in self._refused
        return None if refused else scope

    def rows(
        self, kind: str, tenants: Iterable[TenantRef], resource_groups: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Every row of ``kind`` in the tenants' subscriptions (all of one directory), every page. Raises
        :class:`GraphRefused` where the directory does not allow the query."""
        members = list(tenants)
        directory = self.directory or members[0].ad_tenant
        subscriptions = sorted({t.subscription for t in members})
        client = self.session.graph_client(directory)
        text = query_text(kind, resource_groups)
        out: list[dict[str, Any]] = []
        skip_token: str | None = None
        while True:
            answer = self._page(client, directory, subscriptions, text, skip_token)
            out.extend(row for row in answer.get("data") or [] if isinstance(row, dict))
            skip_token = answer.get("$skipToken") or answer.get("skip_token")
            if not skip_token:
                return out

    def _page(
        self, client: Any, directory: str, subscriptions: list[str], text: str, skip_token: str | None
    ) -> dict[str, Any]:
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        options = QueryRequestOptions(top=PAGE_ROWS, skip_token=skip_token, result_format="objectArray")
        body = QueryRequest(subscriptions=subscriptions, query=text, options=options)
        what = f"query Resource Graph in directory {directory}"
        try:
            with arm.boundary(what):
                answer = client.resources(body)
        except PermanentError as exc:
            if _refused(exc):
                self._refuse(directory, exc)
                raise GraphRefused(str(exc)) from exc
            raise
        # The rows are the objects as the service sent them (``objectArray``); the next page's token, if any.
        data = getattr(answer, "data", None)
        return {"data": data if isinstance(data, list) else [], "$skipToken": getattr(answer, "skip_token", None)}

    def _refuse(self, directory: str, exc: Exception) -> None:
        with self._lock:
            first = directory.casefold() not in self._refused
            self._refused.add(directory.casefold())
        if first:
            log.warning(
                "resource_graph_refused: directory %s (%s); listing its subscriptions one by one instead "
                "(RECONCILER_AZURE_RESOURCE_GRAPH=off skips the query)",
                directory,
                exc,
            )


class GraphRefused(Exception):
    """The directory does not allow the Resource Graph query: list per subscription instead."""


def _refused(exc: PermanentError) -> bool:
    code = (exc.code or "").casefold()
    return code in _REFUSED_CODES or code == "403"
