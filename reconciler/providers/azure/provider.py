"""The Azure provider: a thin dispatcher that hands each resource to the one handler of its kind.

Handlers, one module per kind family (each holds its kinds' list call, single read, and writes):
- ``vault.py``: the site's Recovery Services vault;
- ``tenant_side.py``: a tenant's resource groups, and its recovery storage account and virtual network;
- ``policies.py``: replication policies and their association with a tenant's cloud;
- ``mappings.py``: network mappings (a tenant's VM network to its Azure virtual network);
- ``protection.py``: protected VMs (their request bodies: ``payloads.py``);
- ``recovery_plans.py``: recovery plans (a tenant's protected VMs in boot groups);
- ``vmm.py``: the site's VMM server as the vault knows it (registered or not, its ASR Provider).

What they share: ``session.py`` (credentials, SDK clients, get/list through the error boundary of
``arm.py``), ``pipeline.py`` (the per-request retry policy), ``jobs.py`` (long-running operations and ASR jobs),
``namespaces.py`` (resource provider registration), ``ledger.py`` (ownership the tags cannot carry),
``topology.py`` (the vault's fabric, clouds and VM networks), ``handler.py`` (the handler base and the ASR
family), ``tagged.py`` (the tagged family), ``normalize.py`` (ARM JSON to the engine's shape).

Read scopes (one list call each, paged): the site's vault (the vault, and vault-wide lists of policies,
container mappings, network mappings, protected items, recovery plans, fabrics and ASR Providers); a
subscription (the resource groups of its tenant, or of the site's vault); a tenant's recovery resource group
(its storage accounts and virtual networks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.changes import ResourceChange
from reconciler.core.errors import TemporaryError
from reconciler.core.resources import Observed, Resource
from reconciler.providers.azure import discover
from reconciler.providers.azure.context import AzureContext
from reconciler.providers.azure.drills import AzureDrills
from reconciler.providers.azure.graph import Graph
from reconciler.providers.azure.handler import Handler, Services
from reconciler.providers.azure.jobs import Jobs
from reconciler.providers.azure.ledger import Ledger, MemoryLedger, StoreLedger
from reconciler.providers.azure.mappings import NetworkMappingHandler
from reconciler.providers.azure.namespaces import Registrations
from reconciler.providers.azure.policies import AssociationHandler, PolicyHandler
from reconciler.providers.azure.protection import ProtectionHandler
from reconciler.providers.azure.recovery_plans import RecoveryPlanHandler
from reconciler.providers.azure.session import Session
from reconciler.providers.azure.settings import AzureSettings
from reconciler.providers.azure.tenant_side import ResourceGroupHandler, StorageAccountHandler, VirtualNetworkHandler
from reconciler.providers.azure.topology import Topologies
from reconciler.providers.azure.vault import VaultHandler
from reconciler.providers.azure.vmm import VmmServerHandler
from reconciler.providers.base import HandlerProvider, HandlerTable, Progress
from reconciler.providers.discovery import Scope
from reconciler.store.db import Store

# The kinds this backend serves (the registry routes them here when RECONCILER_AZURE=on); the handler table
# must serve exactly these (tests/test_azure_provider.py holds it to that).
KINDS = frozenset(
    {
        "asr.vault",
        "asr.replication_policy",
        "asr.policy_association",
        "asr.network_mapping",
        "asr.protected_item",
        "asr.vmm_server",
        "asr.recovery_plan",
        "azure.resource_group",
        "azure.storage_account",
        "azure.virtual_network",
    }
)

# One entry per handler; a new kind is a new handler here, or a kind added to an existing handler's ``kinds``.
HANDLERS: tuple[Callable[[Services], Handler], ...] = (
    VaultHandler,
    ResourceGroupHandler,
    StorageAccountHandler,
    VirtualNetworkHandler,
    PolicyHandler,
    AssociationHandler,
    NetworkMappingHandler,
    ProtectionHandler,
    VmmServerHandler,
    RecoveryPlanHandler,
)


class AzureProvider(HandlerProvider):
    name = "azure"
    kinds = KINDS

    def __init__(
        self,
        settings: AzureSettings,
        context: AzureContext,
        *,
        store: Store | None = None,
        credential_factory: Callable[[str | None], Any] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.session = Session(settings, context, credential_factory=credential_factory, client_kwargs=client_kwargs)
        self.ledger: Ledger = StoreLedger(store) if store is not None else MemoryLedger()
        services = Services(
            self.session,
            Jobs(self.session),
            self.ledger,
            Topologies(self.session),
            Registrations(self.session),
            Graph(self.session, enabled=settings.resource_graph, directory=settings.graph_directory),
        )
        self.table = HandlerTable(self.name, (make(services) for make in HANDLERS))
        # The primitives of a DR drill (providers.drills): test failover, cleanup, latest recovery point.
        self.drills = AzureDrills(self.session, services.jobs, services.topology)

    # What reaches the engine: a request that used its own retries (pipeline.py) and is still throttled is a
    # TemporaryError, whose Retry-After the engine's step retry honours; cut to the same cap as the pipeline's.

    def read(self, resources: Sequence[Resource]) -> Mapping[Address, Observed | None]:
        with self._capped():
            return super().read(resources)

    def read_one(self, resource: Resource) -> Observed | None:
        with self._capped():
            return super().read_one(resource)

    def apply(self, change: ResourceChange, resource: Resource, progress: Progress | None = None) -> Observed | None:
        with self._capped():
            return super().apply(change, resource, progress)

    @contextlib.contextmanager
    def _capped(self) -> Iterator[None]:
        try:
            yield
        except TemporaryError as exc:
            cap = self.session.settings.max_retry_after_s
            if exc.retry_after is not None and exc.retry_after > cap:
                exc.retry_after = cap
            raise

    def discover(self, kind: str, scope: Scope) -> list[Observed]:
        """What exists of ``kind`` in ``scope``, owned or not (``providers.discovery``; ``discover.py``)."""
        return discover.discover(self.table, kind, scope)

    def close(self) -> None:
        self.session.close()
