"""The WinRM provider's settings: off by default, defaults and per-endpoint overrides, safe transports and
certificate checks, credentials from variables, a private file or Kerberos, and passwords never shown."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from reconciler.providers.winrm import settings as winrm_settings
from reconciler.providers.winrm.credentials import SettingsError
from reconciler.providers.winrm.settings import Auth, Scheme, WinRMSettings


def _env(**extra: str) -> dict[str, str]:
    return {
        "RECONCILER_WINRM": "on",
        "RECONCILER_WINRM_USER": "CONTOSO\\svc-reconciler",
        "RECONCILER_WINRM_PASSWORD": secrets.token_urlsafe(16),
    } | extra


def _settings(env: dict[str, str]) -> WinRMSettings:
    settings = WinRMSettings.from_env(env)
    assert settings is not None
    return settings


def test_off_unless_switched_on() -> None:
    assert WinRMSettings.from_env({}) is None
    assert WinRMSettings.from_env({"RECONCILER_WINRM": "off"}) is None
    with pytest.raises(SettingsError, match="RECONCILER_WINRM='maybe': use on or off"):
        WinRMSettings.from_env({"RECONCILER_WINRM": "maybe"})


def test_defaults_are_https_5986_ntlm_with_certificate_validation() -> None:
    env = _env()
    endpoint = _settings(env).endpoint("VMM01.contoso.int")
    assert (endpoint.scheme, endpoint.port, endpoint.auth) == (Scheme.https, 5986, Auth.ntlm)
    assert endpoint.url == "https://VMM01.contoso.int:5986/wsman"
    assert endpoint.cert_validation and endpoint.ca_bundle is None
    assert (endpoint.operation_timeout_s, endpoint.read_timeout_s, endpoint.concurrency) == (20, 30, 4)
    assert endpoint.username == "CONTOSO\\svc-reconciler"
    assert endpoint.password is not None and endpoint.password.reveal() == env["RECONCILER_WINRM_PASSWORD"]
    assert endpoint.warnings() == ()


def test_per_endpoint_overrides_by_full_then_short_name() -> None:
    settings = _settings(
        _env(
            RECONCILER_WINRM_CONCURRENCY="8",
            RECONCILER_WINRM_CONCURRENCY__HV01="2",
            RECONCILER_WINRM_CONCURRENCY__HV01_CONTOSO_INT="1",
            RECONCILER_WINRM_PORT__HV02="15986",
        )
    )
    assert settings.endpoint("HV01.contoso.int").concurrency == 1  # the full name wins
    assert settings.endpoint("hv01.fabrikam.int").concurrency == 2  # the short name
    assert settings.endpoint("VMM01.contoso.int").concurrency == 8  # the default
    assert settings.endpoint("hv02.contoso.int").url == "https://hv02.contoso.int:15986/wsman"
    assert settings.endpoint("10.0.0.5").concurrency == 8  # an address has no short name


def test_http_only_when_asked_and_the_spec_can_ask() -> None:
    settings = _settings(_env(RECONCILER_WINRM_TRANSPORT__LAB01="http"))
    lab = settings.endpoint("lab01")
    assert (lab.scheme, lab.port) == (Scheme.http, 5985)
    assert any("plain http" in w for w in lab.warnings())
    from_spec = settings.endpoint("vmm02.lab", scheme=Scheme.http, port=8080)
    assert from_spec.url == "http://vmm02.lab:8080/wsman"
    # an override for the endpoint beats what the spec says
    override = _settings(_env(RECONCILER_WINRM_TRANSPORT__VMM02="https", RECONCILER_WINRM_PORT__VMM02="443"))
    assert override.endpoint("vmm02.lab", scheme=Scheme.http, port=8080).url == "https://vmm02.lab:443/wsman"


def test_basic_needs_https_unless_explicitly_allowed() -> None:
    with pytest.raises(
        SettingsError, match=r"__LAB01: basic authentication over http .* RECONCILER_WINRM_ALLOW_BASIC_OVER_HTTP=yes"
    ):
        WinRMSettings.from_env(_env(RECONCILER_WINRM_AUTH="basic", RECONCILER_WINRM_TRANSPORT__LAB01="http"))
    settings = _settings(
        _env(
            RECONCILER_WINRM_AUTH="basic",
            RECONCILER_WINRM_TRANSPORT="http",
            RECONCILER_WINRM_ALLOW_BASIC_OVER_HTTP="yes",
        )
    )
    assert any("clear text" in w for w in settings.endpoint("lab01").warnings())
    assert _settings(_env(RECONCILER_WINRM_AUTH="basic")).endpoint("vmm01").auth is Auth.basic


def test_certificate_validation_off_only_when_asked_and_said(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RECONCILER_WINRM_CERT_VALIDATION='nope': use on or off"):
        WinRMSettings.from_env(_env(RECONCILER_WINRM_CERT_VALIDATION="nope"))
    endpoint = _settings(_env(RECONCILER_WINRM_CERT_VALIDATION="off")).endpoint("vmm01")
    assert not endpoint.cert_validation
    assert endpoint.warnings()[0].startswith("vmm01: certificate validation is OFF")
    with pytest.raises(SettingsError, match=r"RECONCILER_WINRM_CA_BUNDLE='.*missing.pem': no such file"):
        WinRMSettings.from_env(_env(RECONCILER_WINRM_CA_BUNDLE=str(tmp_path / "missing.pem")))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert _settings(_env(RECONCILER_WINRM_CA_BUNDLE=str(tmp_path / "ca.pem"))).endpoint("v").ca_bundle == str(
        tmp_path / "ca.pem"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECONCILER_WINRM_AUTH", "digest", "use one of ntlm, kerberos, credssp, basic"),
        ("RECONCILER_WINRM_TRANSPORT", "ftp", "use one of https, http"),
        ("RECONCILER_WINRM_PORT", "99999", "a TCP port 1-65535"),
        ("RECONCILER_WINRM_PORT__VMM01", "x", "a TCP port 1-65535"),
        ("RECONCILER_WINRM_CONCURRENCY", "0", "a number of shells, 1-64"),
        ("RECONCILER_WINRM_OPERATION_TIMEOUT_S", "soon", "whole seconds, 1-3600"),
        ("RECONCILER_WINRM_READ_TIMEOUT_S", "20", "must exceed the operation timeout"),
        ("RECONCILER_WINRM_COMMAND_TIMEOUT_S", "-1", "seconds, at least 1"),
        ("RECONCILER_WINRM_KERBEROS_DELEGATION", "sometimes", "use on or off"),
        ("RECONCILER_WINRM_PASWORD", "x", "unknown setting"),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_fix(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(variable) + ".*" + re.escape(message)):
        WinRMSettings.from_env(_env(**{variable: value}))


def test_credentials_are_required_and_taken_together_from_one_level() -> None:
    with pytest.raises(SettingsError, match="needs RECONCILER_WINRM_PASSWORD, or RECONCILER_WINRM_CREDENTIAL_FILE"):
        WinRMSettings.from_env({"RECONCILER_WINRM": "on", "RECONCILER_WINRM_USER": "svc"})
    host_password = secrets.token_urlsafe(16)
    settings = _settings(_env(RECONCILER_WINRM_USER__HV01=".\\hvadmin", RECONCILER_WINRM_PASSWORD__HV01=host_password))
    hv01 = settings.endpoint("hv01.contoso.int")
    assert hv01.username == ".\\hvadmin" and hv01.password is not None and hv01.password.reveal() == host_password
    assert hv01.credential_source == "RECONCILER_WINRM_USER__HV01 and RECONCILER_WINRM_PASSWORD__HV01"
    with pytest.raises(SettingsError, match=r"__HV02: .* needs RECONCILER_WINRM_PASSWORD__HV02"):
        WinRMSettings.from_env(_env(RECONCILER_WINRM_USER__HV02="other"))  # no fallback to the default password


def test_a_credential_file_must_be_private(tmp_path: Path) -> None:
    password = secrets.token_urlsafe(16)
    path = tmp_path / "winrm.credential"
    path.write_text(f"# the VMM service account\nusername=CONTOSO\\svc-vmm\npassword={password}\n")
    path.chmod(0o644)
    env = {"RECONCILER_WINRM": "on", "RECONCILER_WINRM_CREDENTIAL_FILE": str(path)}
    with pytest.raises(SettingsError, match=rf"group or others may access it \(mode -rw-r--r--\): chmod 600 {path}"):
        WinRMSettings.from_env(env)
    path.chmod(0o600)
    endpoint = _settings(env).endpoint("vmm01")
    assert endpoint.username == "CONTOSO\\svc-vmm"
    assert endpoint.password is not None and endpoint.password.reveal() == password
    assert endpoint.credential_source == f"the credential file {path} (RECONCILER_WINRM_CREDENTIAL_FILE)"
    with pytest.raises(SettingsError, match="are both set"):
        WinRMSettings.from_env(env | {"RECONCILER_WINRM_USER": "someone"})
    path.write_text("username=svc\n")
    with pytest.raises(SettingsError, match="no password= line"):
        WinRMSettings.from_env(env)


def test_kerberos_takes_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm_settings, "_kerberos_available", lambda: True)
    base = {"RECONCILER_WINRM": "on", "RECONCILER_WINRM_AUTH": "kerberos"}
    endpoint = _settings(base).endpoint("vmm01.contoso.int")
    assert endpoint.auth is Auth.kerberos and endpoint.username is None and endpoint.password is None
    assert "kinit" in endpoint.credential_source
    with pytest.raises(SettingsError, match="RECONCILER_WINRM_PASSWORD: kerberos takes no password"):
        WinRMSettings.from_env(base | {"RECONCILER_WINRM_PASSWORD": secrets.token_urlsafe(8)})
    with pytest.raises(SettingsError, match=r"KRB5_CLIENT_KTNAME='FILE:.*': no such keytab"):
        WinRMSettings.from_env(base | {"KRB5_CLIENT_KTNAME": f"FILE:{tmp_path / 'missing.keytab'}"})
    principal = _settings(base | {"RECONCILER_WINRM_USER": "svc-reconciler@CONTOSO.INT"}).endpoint("vmm01")
    assert principal.username == "svc-reconciler@CONTOSO.INT"


def test_kerberos_without_its_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winrm_settings, "_kerberos_available", lambda: False)
    with pytest.raises(SettingsError, match=r"RECONCILER_WINRM_AUTH=kerberos needs the kerberos extra: pip install"):
        WinRMSettings.from_env({"RECONCILER_WINRM": "on", "RECONCILER_WINRM_AUTH": "kerberos"})


def test_passwords_never_print(tmp_path: Path) -> None:
    password = secrets.token_urlsafe(16)
    file_password = secrets.token_urlsafe(16)
    path = tmp_path / "credential"
    path.write_text(f"username=svc\npassword={file_password}\n")
    path.chmod(0o600)
    settings = _settings(_env(RECONCILER_WINRM_PASSWORD=password, RECONCILER_WINRM_CREDENTIAL_FILE__HV01=str(path)))
    vmm, hv01 = settings.endpoint("vmm01"), settings.endpoint("hv01")
    shown = " ".join([repr(settings), str(settings), repr(vmm), str(vmm), repr(hv01), str(hv01.password)])
    assert password not in shown and file_password not in shown
    assert "Secret('***')" in repr(vmm)
    assert settings.secrets() == {password}
    assert hv01.secrets() == {file_password}
    with pytest.raises(SettingsError) as caught:
        WinRMSettings.from_env(_env(RECONCILER_WINRM_PASSWORD=password, RECONCILER_WINRM_PORT="x"))
    assert password not in str(caught.value)
