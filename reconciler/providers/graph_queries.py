"""Which Azure Resource Graph query lists a tenant's Azure resources: one query per kind per Azure AD directory,
naming at most ``SUBSCRIPTIONS_PER_QUERY`` of its subscriptions, each page of at most ``PAGE_ROWS`` rows one
round trip. Shared by the Azure provider, which sends the queries (``azure/graph.py``), and the embedded estate,
which costs its reads as they would (``embedded/reads.py``)."""

from __future__ import annotations

from collections.abc import Iterable

PAGE_ROWS = 1_000  # the most rows one page of an answer holds (the rest follows a skip token)
SUBSCRIPTIONS_PER_QUERY = 300  # subscriptions named in one query (more go to another query)
SCOPE_PREFIX = "directory/"


def query_scopes(tenants: Iterable[tuple[str, str, str]], *, directory: str | None = None) -> dict[str, str]:
    """(tenant, its directory, its subscription) -> tenant -> the read scope of the query listing it,
    ``directory/<id>/<n>``: a directory's subscriptions, sorted, in queries of at most ``SUBSCRIPTIONS_PER_QUERY``.
    ``directory``: the one directory that sees every tenant's subscription (Azure Lighthouse), instead of each
    tenant's own. Ids compare without case."""
    members = [(name, (directory or own).casefold(), subscription.casefold()) for name, own, subscription in tenants]
    by_directory: dict[str, set[str]] = {}
    for _name, where, subscription in members:
        by_directory.setdefault(where, set()).add(subscription)
    place: dict[tuple[str, str], int] = {}
    for where, subscriptions in by_directory.items():
        for i, subscription in enumerate(sorted(subscriptions)):
            place[(where, subscription)] = i // SUBSCRIPTIONS_PER_QUERY
    return {name: f"{SCOPE_PREFIX}{where}/{place[(where, sub)]}" for name, where, sub in members}
