"""The provider's connection to Azure: credentials per Azure AD tenant, one SDK client per (family,
subscription), the specs' context (which vault serves a site, which subscription a tenant has), and the two
shapes of read every handler makes, ``get`` (one object) and ``list_all`` (a collection, every page,
normalized), both through the error boundary (``arm.boundary``).

Handlers never build a client or credential themselves: this module is where the SDK's client classes are
imported, and where they are closed at the end of a run.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.core.errors import PermanentError
from reconciler.providers.azure import arm
from reconciler.providers.azure.context import AzureContext, TenantRef, VaultRef
from reconciler.providers.azure.normalize import Normalized
from reconciler.providers.azure.settings import AzureSettings, make_credential
from reconciler.providers.base import absent_as_none

Found = tuple[dict[str, Any], Normalized]  # an object as ARM returned it (wire JSON) and normalized
CredentialFactory = Callable[[str | None], Any]  # Azure AD tenant (None: the credential's home) -> credential


class Family(enum.StrEnum):
    """The SDK client families the provider uses, one management client each."""

    ASR = "asr"  # SiteRecoveryManagementClient: policies, mappings, protected items, jobs, fabrics
    VAULTS = "vaults"  # RecoveryServicesClient: the vault itself
    RESOURCES = "resources"  # ResourceManagementClient: resource groups
    STORAGE = "storage"  # StorageManagementClient: storage accounts
    NETWORK = "network"  # NetworkManagementClient: virtual networks
    GRAPH = "graph"  # ResourceGraphClient: a kind across a directory's subscriptions (graph.py), per directory


def _asr_client(credential: Any, subscription: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    return SiteRecoveryManagementClient(credential, subscription, **kwargs)


def _vaults_client(credential: Any, subscription: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.recoveryservices import RecoveryServicesClient

    return RecoveryServicesClient(credential, subscription, **kwargs)


def _resources_client(credential: Any, subscription: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(credential, subscription, **kwargs)


def _storage_client(credential: Any, subscription: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.storage import StorageManagementClient

    return StorageManagementClient(credential, subscription, **kwargs)


def _network_client(credential: Any, subscription: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.network import NetworkManagementClient

    return NetworkManagementClient(credential, subscription, **kwargs)


def _graph_client(credential: Any, _directory: str, kwargs: Mapping[str, Any]) -> Any:
    from azure.mgmt.resourcegraph import ResourceGraphClient

    return ResourceGraphClient(credential, **kwargs)


# The SDK packages are imported when a family is first used: a run that only touches tenants' storage never
# pays for importing Site Recovery's client.
_CLIENTS: dict[Family, Callable[[Any, str, Mapping[str, Any]], Any]] = {
    Family.ASR: _asr_client,
    Family.VAULTS: _vaults_client,
    Family.RESOURCES: _resources_client,
    Family.STORAGE: _storage_client,
    Family.NETWORK: _network_client,
    Family.GRAPH: _graph_client,
}


class Session:
    """Credentials and clients for one run, shared by every handler (and thread) of the provider."""

    def __init__(
        self,
        settings: AzureSettings,
        context: AzureContext,
        *,
        credential_factory: CredentialFactory | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.context = context
        self._credential_factory = credential_factory or (lambda tenant: make_credential(settings, tenant))
        self._client_kwargs = dict(client_kwargs) if client_kwargs is not None else settings.client_kwargs()
        self._lock = threading.Lock()
        self._credentials: dict[str | None, Any] = {}
        self._clients: dict[tuple[Family, str], Any] = {}

    def credential(self, ad_tenant: str | None) -> Any:
        """The credential that signs in to ``ad_tenant`` (made once per tenant)."""
        with self._lock:
            if ad_tenant not in self._credentials:
                try:
                    self._credentials[ad_tenant] = self._credential_factory(ad_tenant)
                except ValueError as exc:  # a setting the credential needs is missing or wrong
                    message = f"Azure credential for tenant {ad_tenant}: {exc}"
                    raise PermanentError(message, code="NoCredential") from exc
            return self._credentials[ad_tenant]

    def client(self, family: Family, subscription: str, ad_tenant: str | None) -> Any:
        """The ``family`` client of ``subscription``, signed in to ``ad_tenant`` (made once per subscription)."""
        key = (family, subscription.casefold())
        with self._lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        client = _CLIENTS[family](self.credential(ad_tenant), subscription, self._client_kwargs)
        with self._lock:
            return self._clients.setdefault(key, client)

    def graph_client(self, directory: str) -> Any:
        """The Resource Graph client signed in to ``directory`` (one per directory: its queries name the
        subscriptions)."""
        return self.client(Family.GRAPH, f"directory/{directory}", directory)

    def vault_client(self, family: Family, vault: VaultRef) -> Any:
        """A client of the vault's (the hosting provider's) subscription, in the provider's home tenant."""
        return self.client(family, vault.subscription, self.settings.home_tenant)

    def tenant_client(self, family: Family, tenant: TenantRef) -> Any:
        """A client of a tenant's subscription, signed in to the tenant's own Azure AD tenant."""
        return self.client(family, tenant.subscription, tenant.ad_tenant)

    def vault(self, site: str) -> VaultRef:
        try:
            return self.context.vaults[site]
        except KeyError:
            raise PermanentError(f"no site {site!r} in the specs: cannot tell which vault to use") from None

    def tenant(self, name: str | None) -> TenantRef:
        if name is None or name not in self.context.tenants:
            raise PermanentError(f"no tenant {name!r} in the specs: cannot tell which subscription to use")
        return self.context.tenants[name]

    def ad_tenant_of(self, subscription: str) -> str | None:
        """The Azure AD tenant a subscription signs in to: a tenant's own, else the provider's home tenant."""
        for tenant in self.context.tenants.values():
            if tenant.subscription.casefold() == subscription.casefold():
                return tenant.ad_tenant
        return self.settings.home_tenant

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
            credentials, self._credentials = list(self._credentials.values()), {}
        for thing in [*clients, *credentials]:
            close = getattr(thing, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):  # closing is best effort
                    close()


def plain(obj: Any) -> dict[str, Any]:
    """An SDK model (or a dict) as wire-shaped JSON."""
    if isinstance(obj, Mapping):
        return dict(obj)
    as_dict = getattr(obj, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else {}


def get(what: str, call: Callable[[], Any]) -> dict[str, Any]:
    """One object; ``NotFoundError`` when it (or its parent) does not exist."""
    with arm.boundary(what):
        return plain(call())


def find(what: str, call: Callable[[], Any]) -> dict[str, Any] | None:
    """One object, or None when it does not exist: what a write looks at before it decides how to write."""
    with absent_as_none():
        return get(what, call)
    return None


def list_all(
    what: str, call: Callable[[], Iterable[Any]], norm: Callable[[Mapping[str, Any]], Normalized | None]
) -> list[Found]:
    """One list call (every page), normalized; objects ``norm`` skips (another replication scenario) are left
    out. ``NotFoundError`` when the parent (resource group, vault) does not exist."""
    out: list[Found] = []
    with arm.boundary(what):
        for item in call():
            obj = plain(item)
            n = norm(obj)
            if n is not None:
                out.append((obj, n))
    return out
