"""ARM ids (case-insensitive, parsed and built) and the error boundary, the one place Azure SDK exceptions
become the engine's (``core.errors``): TemporaryError (throttling, 5xx, a dropped connection: retried,
honouring Retry-After), NotFoundError (404, or an ARM code naming something not found: a read turns it into
"absent") or PermanentError (any other 4xx, shown with the ARM error code and message).

Every SDK call of the provider runs inside :func:`boundary`; nothing else in the package looks at an SDK
exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from reconciler.core.errors import NotFoundError, PermanentError, TemporaryError


@dataclass(frozen=True)
class ArmId:
    subscription: str
    resource_group: str
    name: str  # the last segment


def parse(arm_id: str | None) -> ArmId | None:
    """The subscription, resource group and name of an ARM id, whatever the case of its keywords."""
    if not arm_id:
        return None
    parts = [p for p in arm_id.split("/") if p]
    keys = {p.casefold(): i for i, p in enumerate(parts) if i % 2 == 0}
    sub = parts[keys["subscriptions"] + 1] if "subscriptions" in keys and keys["subscriptions"] + 1 < len(parts) else ""
    rg = (
        parts[keys["resourcegroups"] + 1]
        if "resourcegroups" in keys and keys["resourcegroups"] + 1 < len(parts)
        else ""
    )
    return ArmId(sub, rg, parts[-1])


def name_of(arm_id: str | None) -> str | None:
    parsed = parse(arm_id)
    return parsed.name if parsed is not None else None


def resource_group_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def storage_account_id(subscription: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription, resource_group)}/providers/Microsoft.Storage/storageAccounts/{name}"


def virtual_network_id(subscription: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription, resource_group)}/providers/Microsoft.Network/virtualNetworks/{name}"


def policy_id(vault_id: str, policy: str) -> str:
    return f"{vault_id}/replicationPolicies/{policy}"


def container_id(vault_id: str, fabric: str, container: str) -> str:
    """A protection container (a VMM cloud as ASR knows it) in the vault's fabric."""
    return f"{vault_id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}"


def container_mapping_id(vault_id: str, fabric: str, container: str, mapping: str) -> str:
    return f"{container_id(vault_id, fabric, container)}/replicationProtectionContainerMappings/{mapping}"


def protected_item_id(vault_id: str, fabric: str, container: str, item: str) -> str:
    return f"{container_id(vault_id, fabric, container)}/replicationProtectedItems/{item}"


def network_mapping_id(vault_id: str, fabric: str, network: str, mapping: str) -> str:
    return f"{vault_id}/replicationFabrics/{fabric}/replicationNetworks/{network}/replicationNetworkMappings/{mapping}"


def same(a: str | None, b: str | None) -> bool:
    """ARM ids and names compare case-insensitively."""
    return (a or "").casefold().rstrip("/") == (b or "").casefold().rstrip("/")


def retry_after(response: Any) -> float | None:
    """The server's Retry-After (seconds or an HTTP date) or x-ms-retry-after-ms, if any."""
    headers = getattr(response, "headers", None) or {}
    ms = headers.get("x-ms-retry-after-ms") or headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            import datetime

            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.datetime.now(when.tzinfo)).total_seconds())
        except (TypeError, ValueError):
            return None


def error_code(exc: Any) -> tuple[str, str]:
    """The ARM error code and message of an HttpResponseError."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or ""
    if not message:
        message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    return str(code), str(message)


def translate(exc: BaseException, what: str) -> Exception:
    """The engine's error for an exception raised by the Azure SDK while doing ``what``."""
    from azure.core import exceptions as azure_errors

    if isinstance(exc, azure_errors.ClientAuthenticationError):
        code, message = error_code(exc)
        status = getattr(exc, "status_code", None)
        hint = (
            "the identity lacks a role on this scope (see the README: least-privilege roles)"
            if status == 403
            else "check the credential (RECONCILER_AZURE_CREDENTIAL, AZURE_CLIENT_ID, the tenant id)"
        )
        return PermanentError(f"{what}: {code or 'AuthenticationFailed'}: {message} ({hint})", code=code or "Auth")
    if isinstance(exc, azure_errors.HttpResponseError):
        status = exc.status_code or 0
        code, message = error_code(exc)
        # A long-running operation that failed answers its last poll with 200: no status worth showing.
        shown = f"{status} " if status >= 400 else ""
        text = f"{what}: {shown}{code}: {message}" if code else f"{what}: {shown}{message}"
        if status in {408, 429} or status >= 500:
            return TemporaryError(text, retry_after=retry_after(exc.response))
        if isinstance(exc, azure_errors.ResourceNotFoundError) or status == 404 or code.endswith("NotFound"):
            # The object, or a parent the call goes through (resource group, vault), does not exist.
            return NotFoundError(text, code=code or str(status))
        return PermanentError(text, code=code or str(status))
    if isinstance(exc, (azure_errors.ServiceRequestError, azure_errors.ServiceResponseError)):
        return TemporaryError(f"{what}: the Azure endpoint did not answer ({exc})")
    if type(exc).__name__ == "CredentialUnavailableError":
        return PermanentError(
            f"{what}: no Azure credential available ({str(exc).splitlines()[0]}); set RECONCILER_AZURE_CREDENTIAL "
            "and its variables (see the README), or sign in with az login",
            code="NoCredential",
        )
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


@contextmanager
def boundary(what: str) -> Iterator[None]:
    """Run SDK calls, mapping their errors into the engine's."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise translate(exc, what) from exc
    except Exception as exc:
        if type(exc).__name__ == "CredentialUnavailableError":
            raise translate(exc, what) from exc
        raise
