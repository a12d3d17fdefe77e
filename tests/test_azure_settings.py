"""The Azure provider's settings (clouds, credentials, CA bundle) and its error boundary (which Azure failures are
retried, with which delay, and what a refused request says)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from reconciler.core.errors import NotFoundError, PermanentError, TemporaryError
from reconciler.providers.azure import arm
from reconciler.providers.azure.settings import AzureSettings, SettingsError


def test_off_unless_switched_on() -> None:
    assert AzureSettings.from_env({}) is None
    assert AzureSettings.from_env({"RECONCILER_AZURE": "off"}) is None
    with pytest.raises(SettingsError, match="RECONCILER_AZURE='perhaps': use on or off"):
        AzureSettings.from_env({"RECONCILER_AZURE": "perhaps"})


@pytest.mark.parametrize(
    ("cloud", "endpoint", "authority"),
    [
        ("public", "https://management.azure.com", "https://login.microsoftonline.com"),
        ("AzureCloud", "https://management.azure.com", "https://login.microsoftonline.com"),
        ("usgov", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
        ("china", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    ],
)
def test_sovereign_clouds_pick_their_endpoint_audience_and_authority(cloud: str, endpoint: str, authority: str) -> None:
    settings = AzureSettings.from_env({"RECONCILER_AZURE": "on", "RECONCILER_AZURE_CLOUD": cloud})
    assert settings is not None
    assert (settings.cloud.arm_endpoint, settings.cloud.authority) == (endpoint, authority)
    kwargs = settings.client_kwargs()
    assert kwargs["base_url"] == endpoint
    assert kwargs["credential_scopes"] == [f"{endpoint}/.default"]
    # Each request is retried by the SDK pipeline (a throttled request, not the whole step), Retry-After capped.
    assert kwargs["retry_policy"].total_retries == 6 and kwargs["retry_policy"].max_retry_after_s == 120
    assert kwargs["polling_interval"] == 5.0  # not the SDK's 30 s when the service says Retry-After: 0
    assert "connection_verify" not in kwargs


def test_a_custom_cloud_needs_https_endpoints_and_takes_a_ca_bundle(tmp_path: Path) -> None:
    env = {"RECONCILER_AZURE": "on", "RECONCILER_AZURE_CLOUD": "custom"}
    with pytest.raises(SettingsError, match="RECONCILER_AZURE_ARM_ENDPOINT=''"):
        AzureSettings.from_env(env)
    env |= {
        "RECONCILER_AZURE_ARM_ENDPOINT": "https://arm.stack.example/",
        "RECONCILER_AZURE_AUTHORITY": "http://login.stack.example",
    }
    with pytest.raises(
        SettingsError, match=re.escape("RECONCILER_AZURE_AUTHORITY='http://login.stack.example': a custom")
    ):
        AzureSettings.from_env(env)
    env["RECONCILER_AZURE_AUTHORITY"] = "https://login.stack.example"
    env["RECONCILER_AZURE_CA_BUNDLE"] = str(tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match="no such file"):
        AzureSettings.from_env(env)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    env["RECONCILER_AZURE_CA_BUNDLE"] = str(tmp_path / "ca.pem")
    settings = AzureSettings.from_env(env)
    assert settings is not None
    assert settings.cloud.arm_endpoint == "https://arm.stack.example"
    assert settings.client_kwargs()["connection_verify"] == str(tmp_path / "ca.pem")


def test_credentials_and_tenants() -> None:
    base = {"RECONCILER_AZURE": "on"}
    with pytest.raises(SettingsError, match="use one of default, environment"):
        AzureSettings.from_env(base | {"RECONCILER_AZURE_CREDENTIAL": "password"})
    with pytest.raises(SettingsError, match="needs AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, RECONCILER_AZURE_TENANT_ID"):
        AzureSettings.from_env(base | {"RECONCILER_AZURE_CREDENTIAL": "client-secret"})
    settings = AzureSettings.from_env(base | {"AZURE_TENANT_ID": "home"})
    assert settings is not None and settings.home_tenant == "home" and settings.credential == "default"
    settings = AzureSettings.from_env(base | {"AZURE_TENANT_ID": "home", "RECONCILER_AZURE_TENANT_ID": "vault"})
    assert settings is not None and settings.home_tenant == "vault"


def _http_error(status: int, body: str, headers: dict[str, str] | None = None) -> HttpResponseError:
    from azure.core.pipeline.transport import HttpRequest, HttpResponse

    class Response(HttpResponse):
        def __init__(self) -> None:
            super().__init__(HttpRequest("GET", "https://arm.example/x"), None)
            self.status_code = status
            self.headers = headers or {}
            self.reason = "reason"
            self.content_type = "application/json"

        def body(self) -> bytes:
            return body.encode()

    from azure.mgmt.core.exceptions import ARMErrorFormat

    return HttpResponseError(response=Response(), error_format=ARMErrorFormat)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"x-ms-retry-after-ms": "1500"}, 1.5),
        (503, {}, None),
        (500, {"Retry-After": "2"}, 2.0),
        (408, {}, None),
    ],
)
def test_throttling_and_server_errors_are_temporary(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    error = arm.translate(_http_error(status, '{"error": {"code": "Busy", "message": "try later"}}', headers), "list")
    assert isinstance(error, TemporaryError)
    assert error.retry_after == retry_after
    assert "Busy: try later" in str(error)


def test_other_client_errors_are_permanent_with_the_arm_code() -> None:
    body = '{"error": {"code": "InvalidParameter", "message": "replicationInterval must be 30, 300 or 900"}}'
    error = arm.translate(_http_error(400, body), "create replication policy P")
    assert isinstance(error, PermanentError) and not isinstance(error, (TemporaryError, NotFoundError))
    assert error.code == "InvalidParameter"
    assert str(error) == (
        "create replication policy P: 400 InvalidParameter: replicationInterval must be 30, 300 or 900"
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "ResourceGroupNotFound"),  # a parent the call goes through
        (404, "ResourceNotFound"),
        (404, ""),  # a 404 without an ARM error body
        (400, "ProtectableItemNotFound"),  # ASR answers some missing objects with 400 and a *NotFound code
    ],
)
def test_missing_objects_are_not_found(status: int, code: str) -> None:
    body = f'{{"error": {{"code": "{code}", "message": "it is not there"}}}}' if code else "{}"
    error = arm.translate(_http_error(status, body), "get vault V")
    assert isinstance(error, NotFoundError)
    assert error.code == (code or "404")
    assert str(error).startswith("get vault V: ")


def test_authentication_and_connection_failures() -> None:
    denied: Any = ClientAuthenticationError(message="denied")
    denied.status_code = 403
    error = arm.translate(denied, "list vaults")
    assert isinstance(error, PermanentError) and "least-privilege roles" in str(error)
    assert isinstance(arm.translate(ServiceRequestError("connection refused"), "list vaults"), TemporaryError)


@pytest.mark.parametrize(
    ("arm_id", "parsed"),
    [
        (
            "/subscriptions/S/resourcegroups/RG/providers/Microsoft.Storage/storageAccounts/acct",
            arm.ArmId("S", "RG", "acct"),
        ),
        (
            "/Subscriptions/S/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/App",
            arm.ArmId("S", "rg", "App"),
        ),
        ("/subscriptions/S/resourceGroups/RG", arm.ArmId("S", "RG", "RG")),
    ],
)
def test_arm_ids_parse_whatever_their_case(arm_id: str, parsed: arm.ArmId) -> None:
    assert arm.parse(arm_id) == parsed
    assert arm.same(arm_id.upper(), arm_id.lower())
    assert arm.parse(None) is None and arm.parse("") is None
