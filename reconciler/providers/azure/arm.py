"""ARM ids (case-insensitive, parsed and built) and the error boundary, the one place Azure SDK exceptions
become the engine's (``core.errors``): TemporaryError (throttling, 5xx, a dropped connection: retried,
honouring Retry-After), NotFoundError (404, or an ARM code naming something not found: a read turns it into
"absent") or PermanentError (any other 4xx, shown with the ARM error code and message).

Every SDK call of the provider runs inside :func:`boundary`; nothing else in the package looks at an SDK
exception."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from reconciler.core.errors import NotFoundError, PermanentError, TemporaryError


class RegistrationRequired(NotFoundError):
    """The subscription is not registered for the resource provider (namespace) a request needs: ARM's 409
    MissingSubscriptionRegistration. A read meets "absent" (nothing of that namespace can exist there); a write
    registers the namespace and tries again (``registration.Registrations``)."""

    def __init__(self, message: str, *, subscription: str, namespace: str) -> None:
        super().__init__(message, code="MissingSubscriptionRegistration")
        self.subscription = subscription
        self.namespace = namespace


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


# Codes that only say which family an error is of: ASR answers every refusal "BadRequest" and names the actual
# reason in the error's details (``{"error": {"code": "BadRequest", "details": [{"code", "message",
# "possibleCauses", "recommendedAction"}]}}``).
_GENERIC = frozenset({"", "badrequest", "conflict", "internalservererror", "operationfailed", "failed"})

# Statuses that will never succeed on a retry: the service does not implement the request.
_UNSUPPORTED = frozenset({501, 505})


def _error_body(exc: Any) -> dict[str, Any]:
    """The ``error`` object of the response's JSON body, or {}."""
    response = getattr(exc, "response", None)
    try:
        body = response.json() if response is not None else None
    except Exception:  # not JSON (an HTML page from a proxy): the SDK's own summary stands
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_code(exc: Any) -> tuple[str, str]:
    """The most specific ARM error code and message of an HttpResponseError: the first detail's, when the
    top-level code is generic (ASR), with ASR's recommended action."""
    error = getattr(exc, "error", None)
    code = str(getattr(error, "code", None) or "")
    message = str(getattr(error, "message", None) or "")
    body = _error_body(exc)
    code, message = str(body.get("code") or code), str(body.get("message") or message)
    details = [d for d in body.get("details") or [] if isinstance(d, dict) and d.get("code")]
    if details and (code.casefold() in _GENERIC or str(details[0]["code"]).casefold() == code.casefold()):
        detail = details[0]
        code, message = str(detail["code"]), str(detail.get("message") or message)
        action = detail.get("recommendedAction")
        if action:
            message = f"{message.rstrip()} (recommended: {str(action).rstrip()})"
    if not message:
        message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    return code, message


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
        if code.casefold() == "missingsubscriptionregistration":
            return _registration(exc, text)
        if status in {408, 429} or (status >= 500 and status not in _UNSUPPORTED):
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


_NAMESPACE = re.compile(r"namespace '([^']+)'", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?]+)", re.IGNORECASE)


def _registration(exc: Any, text: str) -> Exception:
    """RegistrationRequired for a 409 MissingSubscriptionRegistration: the namespace from the error's details
    (``target``) or message, the subscription from the request's URL."""
    body = _error_body(exc)
    targets = [str(d.get("target")) for d in body.get("details") or [] if isinstance(d, dict) and d.get("target")]
    found = _NAMESPACE.search(str(body.get("message") or text))
    namespace = targets[0] if targets else (found.group(1) if found else "")
    request = getattr(getattr(exc, "response", None), "request", None)
    url = str(getattr(request, "url", "") or "")
    subscription = _SUBSCRIPTION.search(url)
    if not namespace or subscription is None:
        return PermanentError(text, code="MissingSubscriptionRegistration")
    return RegistrationRequired(text, subscription=subscription.group(1), namespace=namespace)


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
