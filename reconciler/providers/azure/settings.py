"""Where the Azure provider connects and how it signs in, from the environment (never from the specs).

``RECONCILER_AZURE=on`` turns the provider on: the Azure kinds are then read from and applied to Azure,
every other kind stays with its own backend. The cloud is public Azure unless ``RECONCILER_AZURE_CLOUD``
names another (``usgov``, ``china``) or ``custom`` with ``RECONCILER_AZURE_ARM_ENDPOINT`` and
``RECONCILER_AZURE_AUTHORITY`` (Azure Stack Hub, a proxy, the tests' local server); a private CA goes in
``RECONCILER_AZURE_CA_BUNDLE``. Credentials come from azure-identity (``RECONCILER_AZURE_CREDENTIAL``):
``default`` (DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI ...),
``environment``, ``managed-identity``, ``workload-identity``, ``cli`` or ``client-secret`` (AZURE_CLIENT_ID
and AZURE_CLIENT_SECRET). Each subscription signs in to its own Azure AD tenant: the tenant's plan names
it (``spec.plan.azure.tenantId``), the provider's vault subscription uses ``RECONCILER_AZURE_TENANT_ID``
(else AZURE_TENANT_ID, else the credential's home tenant). How requests are retried and waited for:
``RECONCILER_AZURE_RETRIES``, ``RECONCILER_AZURE_MAX_RETRY_AFTER_S``, ``RECONCILER_AZURE_RETRY_BACKOFF_S``,
``RECONCILER_AZURE_POLLING_INTERVAL_S``, ``RECONCILER_JOB_TIMEOUT_S`` and ``RECONCILER_AZURE_REGISTRATION_TIMEOUT_S``
(docs/azure.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.providers import switches


@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str
    authority: str  # the Azure AD login host


CLOUDS = {
    "public": Cloud("public", "https://management.azure.com", "https://login.microsoftonline.com"),
    "usgov": Cloud("usgov", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    "china": Cloud("china", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}
CLOUD_ALIASES = {
    "azurecloud": "public",
    "azureusgovernment": "usgov",
    "azurechinacloud": "china",
    "usgovernment": "usgov",
}
# Numeric settings: field -> (variable, default, lowest allowed value).
_NUMBERS: dict[str, tuple[str, float, float]] = {
    "job_timeout_s": ("RECONCILER_JOB_TIMEOUT_S", 1800.0, 0.0),
    "polling_interval_s": ("RECONCILER_AZURE_POLLING_INTERVAL_S", 5.0, 0.0),
    "retries": ("RECONCILER_AZURE_RETRIES", 6, 0),
    "max_retry_after_s": ("RECONCILER_AZURE_MAX_RETRY_AFTER_S", 120.0, 0.0),
    "retry_backoff_s": ("RECONCILER_AZURE_RETRY_BACKOFF_S", 0.8, 0.0),
    "registration_timeout_s": ("RECONCILER_AZURE_REGISTRATION_TIMEOUT_S", 1800.0, 0.0),
}


def _number(env: Mapping[str, str], var: str, default: float, low: float) -> float:
    text = env.get(var, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{var}={text!r}: a number of seconds (or, for retries, a count)") from None
    if not value >= low:  # also refuses NaN
        raise SettingsError(f"{var}={text!r}: must be at least {low:g}")
    return value


CREDENTIALS = ("default", "environment", "managed-identity", "workload-identity", "cli", "client-secret")


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


class SettingsError(ValueError):
    """A RECONCILER_AZURE_* setting is wrong; the message names the variable and what to do."""


@dataclass(frozen=True)
class AzureSettings:
    cloud: Cloud
    credential: str = "default"
    ca_bundle: str | None = None
    home_tenant: str | None = None  # the AD tenant of the provider's (vault) subscription
    job_timeout_s: float = 1800.0
    # Between polls of a long-running operation when the service gives no positive Retry-After (ASR answers
    # Retry-After: 0 on some operations; the SDK's own default would then be 30 s per poll).
    polling_interval_s: float = 5.0
    retries: int = 6  # per request, of a throttled (429) or failed (408, 5xx but 501/505) request
    max_retry_after_s: float = 120.0  # the longest Retry-After honoured; a longer one is cut to this
    retry_backoff_s: float = 0.8  # exponential backoff factor when the service names no delay
    registration_timeout_s: float = 1800.0  # how long a resource provider registration may take
    resource_graph: bool = True  # tenant-side kinds listed per directory by Resource Graph (graph.py)
    # The directory whose Resource Graph sees every tenant's subscription (Azure Lighthouse delegations to the
    # provider's directory): one query per kind for all tenants (None: each tenant's own directory).
    graph_directory: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AzureSettings | None:
        """The settings, or None when the provider is off (the default: the embedded estate serves Azure)."""
        e = os.environ if env is None else env
        if not switches.backend_on(e, "RECONCILER_AZURE", error=SettingsError, alias="azure"):
            return None
        name = e.get("RECONCILER_AZURE_CLOUD", "public").strip().casefold() or "public"
        name = CLOUD_ALIASES.get(name, name)
        if name == "custom":
            arm, authority = e.get("RECONCILER_AZURE_ARM_ENDPOINT", ""), e.get("RECONCILER_AZURE_AUTHORITY", "")
            for var, value in (("RECONCILER_AZURE_ARM_ENDPOINT", arm), ("RECONCILER_AZURE_AUTHORITY", authority)):
                if not value.startswith("https://"):
                    raise SettingsError(
                        f"{var}={value!r}: a custom cloud needs an https:// URL here (the ARM endpoint, and the "
                        "Azure AD authority host)"
                    )
            cloud = Cloud("custom", arm.rstrip("/"), authority.rstrip("/"))
        elif name in CLOUDS:
            cloud = CLOUDS[name]
        else:
            raise SettingsError(
                f"RECONCILER_AZURE_CLOUD={name!r}: use public, usgov, china, or custom (with "
                "RECONCILER_AZURE_ARM_ENDPOINT and RECONCILER_AZURE_AUTHORITY)"
            )
        credential = e.get("RECONCILER_AZURE_CREDENTIAL", "default").strip().casefold() or "default"
        if credential not in CREDENTIALS:
            raise SettingsError(f"RECONCILER_AZURE_CREDENTIAL={credential!r}: use one of {', '.join(CREDENTIALS)}")
        ca = e.get("RECONCILER_AZURE_CA_BUNDLE") or None
        if ca is not None and not Path(ca).is_file():
            raise SettingsError(f"RECONCILER_AZURE_CA_BUNDLE={ca!r}: no such file (a PEM bundle of CA certificates)")
        numbers = {name: _number(e, var, default, low) for name, (var, default, low) in _NUMBERS.items()}
        home = e.get("RECONCILER_AZURE_TENANT_ID") or e.get("AZURE_TENANT_ID") or None
        if credential == "client-secret":
            missing = [v for v in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET") if not e.get(v)]
            if home is None:
                missing.append("RECONCILER_AZURE_TENANT_ID (the directory of the vault's subscription)")
            if missing:
                raise SettingsError(f"RECONCILER_AZURE_CREDENTIAL=client-secret needs {', '.join(missing)}")
        graph = e.get("RECONCILER_AZURE_RESOURCE_GRAPH", "on").strip().casefold() or "on"
        if graph not in _SWITCH:
            raise SettingsError(
                f"RECONCILER_AZURE_RESOURCE_GRAPH={graph!r}: use on (list tenants' resources per directory with "
                "Resource Graph, the default) or off (one list call per subscription)"
            )
        graph_directory = e.get("RECONCILER_AZURE_GRAPH_DIRECTORY", "").strip() or None
        if graph_directory is not None and not _GUID.fullmatch(graph_directory):
            raise SettingsError(
                f"RECONCILER_AZURE_GRAPH_DIRECTORY={graph_directory!r}: the id (a GUID) of the Azure AD directory "
                "whose Resource Graph sees every tenant's subscription (through Azure Lighthouse), or unset"
            )
        return cls(
            cloud=cloud,
            credential=credential,
            ca_bundle=ca,
            home_tenant=home,
            job_timeout_s=numbers["job_timeout_s"],
            polling_interval_s=numbers["polling_interval_s"],
            retries=int(numbers["retries"]),
            max_retry_after_s=numbers["max_retry_after_s"],
            retry_backoff_s=numbers["retry_backoff_s"],
            registration_timeout_s=numbers["registration_timeout_s"],
            resource_graph=_SWITCH[graph],
            graph_directory=graph_directory,
        )

    def client_kwargs(self) -> dict[str, Any]:
        """What every management client gets: the cloud's endpoint and token audience, the CA bundle, the
        polling interval, and the per-request retry policy (``pipeline.RetryPolicy``: a throttled request is
        sent again after the service's Retry-After, capped, at most ``retries`` times)."""
        from reconciler.providers.azure import pipeline  # imports azure-core: only once the provider is on

        kw: dict[str, Any] = {
            "base_url": self.cloud.arm_endpoint,
            "credential_scopes": [f"{self.cloud.arm_endpoint}/.default"],
            "retry_policy": pipeline.retry_policy(
                retries=self.retries, max_retry_after_s=self.max_retry_after_s, backoff_s=self.retry_backoff_s
            ),
            "polling_interval": self.polling_interval_s,
        }
        if self.ca_bundle:
            kw["connection_verify"] = self.ca_bundle
        return kw


def make_credential(settings: AzureSettings, tenant_id: str | None) -> Any:
    """An azure-identity credential signing in to ``tenant_id`` (None: the credential's own default)."""
    from azure import identity  # imported only when the provider is on: it is slow to import

    common: dict[str, Any] = {"authority": settings.cloud.authority}
    if settings.ca_bundle:
        common["connection_verify"] = settings.ca_bundle
    if settings.cloud.name == "custom":
        common["disable_instance_discovery"] = True
    kind = settings.credential
    if kind == "client-secret":
        tenant = tenant_id or settings.home_tenant
        # A directory with an app of its own (a CSP customer that consented to another registration):
        # AZURE_CLIENT_ID__<tenant id, dashes as underscores> and AZURE_CLIENT_SECRET__<same> override.
        suffix = "__" + (tenant or "").replace("-", "_")
        client_id = os.environ.get(f"AZURE_CLIENT_ID{suffix}") or os.environ.get("AZURE_CLIENT_ID")
        secret = os.environ.get(f"AZURE_CLIENT_SECRET{suffix}") or os.environ.get("AZURE_CLIENT_SECRET")
        if not client_id or not secret or not tenant:
            raise SettingsError(
                "RECONCILER_AZURE_CREDENTIAL=client-secret needs AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the "
                "environment, and a tenant (the plan's tenantId, or RECONCILER_AZURE_TENANT_ID)"
            )
        return identity.ClientSecretCredential(tenant, client_id, secret, **common)
    if kind == "environment":
        return identity.EnvironmentCredential(**common)
    if kind == "managed-identity":
        return identity.ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID"))
    if kind == "workload-identity":
        return identity.WorkloadIdentityCredential(tenant_id=tenant_id or settings.home_tenant, **common)
    if kind == "cli":
        return identity.AzureCliCredential(tenant_id=tenant_id or "")
    # DefaultAzureCredential signs in to its home tenant; a CSP subscription in a customer's directory is
    # reached by asking for a token in that tenant (the app must be consented there).
    return _TenantCredential(identity.DefaultAzureCredential(additionally_allowed_tenants=["*"], **common), tenant_id)


class _TenantCredential:
    """A credential asking its inner credential for tokens in one Azure AD tenant."""

    def __init__(self, inner: Any, tenant_id: str | None) -> None:
        self.inner, self.tenant_id = inner, tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        if self.tenant_id and "tenant_id" not in kwargs:
            kwargs["tenant_id"] = self.tenant_id
        return self.inner.get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        opts = dict(options or {})
        if self.tenant_id:
            opts.setdefault("tenant_id", self.tenant_id)
        return self.inner.get_token_info(*scopes, options=opts)

    def close(self) -> None:
        self.inner.close()
