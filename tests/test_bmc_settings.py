"""BMC settings from the environment and the login file, and the vendor mapping (no BMC needed)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from reconciler.core.errors import PermanentError
from reconciler.providers.bmc.bios import check_against_registry, desired_attributes
from reconciler.providers.bmc.model import AttributeSpec, Registry
from reconciler.providers.bmc.settings import BmcSettings, SettingsError
from reconciler.spec.models.power import BiosProfile
from reconciler.spec.models.site import Vendor


def test_off_by_default_and_both_halves_of_a_login_needed() -> None:
    assert BmcSettings.from_env({}) is None
    with pytest.raises(SettingsError, match="RECONCILER_BMC_USER is not set"):
        BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_PASSWORD": "x" * 8})
    settings = BmcSettings.from_env({"RECONCILER_BMC": "on"})
    assert settings is not None
    target = settings.target(host="esx01", address="https://10.0.0.21", vendor="dell")
    with pytest.raises(SettingsError, match="no credentials for the BMC of esx01: set RECONCILER_BMC_USER"):
        settings.login(target)


def test_login_file_matches_a_bmc_by_host_or_address_and_can_redirect(tmp_path: Path) -> None:
    first, second, fallback = (secrets.token_urlsafe(12) for _ in range(3))
    path = tmp_path / "bmc-login.toml"
    path.write_text(
        f'[default]\nuser = "root"\npassword = "{fallback}"\n'
        f'[bmcs."esx01.lab.example"]\nuser = "svc1"\npassword = "{first}"\naddress = "https://127.0.0.1:8443"\n'
        f'[bmcs."10.0.0.22"]\nuser = "svc2"\npassword = "{second}"\n'
    )
    path.chmod(0o600)
    settings = BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_LOGIN_FILE": str(path)})
    assert settings is not None
    one = settings.target(host="esx01.lab.example", address="https://10.0.0.21", vendor="dell")
    assert one.url == "https://127.0.0.1:8443"
    assert settings.login(one).password == first
    two = settings.target(host="esx02.lab.example", address="https://10.0.0.22/", vendor="hpe")
    assert (two.url, settings.login(two).user) == ("https://10.0.0.22", "svc2")
    three = settings.target(host="esx03.lab.example", address="https://10.0.0.23", vendor="dell")
    assert settings.login(three).password == fallback
    assert first not in repr(settings) and fallback not in repr(settings)


def test_plain_http_bmcs_and_bad_values_are_refused() -> None:
    settings = BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_AUTH": "basic"})
    assert settings is not None and settings.auth == "basic"
    with pytest.raises(SettingsError, match=r"must be an https:// URL"):
        settings.target(host="esx01", address="http://10.0.0.21", vendor="dell")
    with pytest.raises(SettingsError, match="RECONCILER_BMC_AUTH='digest': use session"):
        BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_AUTH": "digest"})
    with pytest.raises(SettingsError, match="RECONCILER_BMC_APPLY_TIMEOUT_S='later': a number of seconds"):
        BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_APPLY_TIMEOUT_S": "later"})


def test_certificates_are_checked_unless_turned_off() -> None:
    on = BmcSettings.from_env({"RECONCILER_BMC": "on"})
    off = BmcSettings.from_env({"RECONCILER_BMC": "on", "RECONCILER_BMC_TLS_VERIFY": "off"})
    assert on is not None and off is not None
    default_bundle = on.cafile()
    assert default_bundle is not None and Path(default_bundle).is_file()
    assert off.cafile() is None


def test_profiles_map_to_vendor_attributes_and_explicit_ones_win() -> None:
    assert desired_attributes(Vendor.DELL, profile=BiosProfile.OS_CONTROLLED) == {
        "SysProfile": "PerfPerWattOptimizedOs"
    }
    assert desired_attributes(
        Vendor.HPE, profile=BiosProfile.MAXIMUM_PERFORMANCE, attributes={"PowerRegulator": "OsControl"}
    ) == {"PowerRegulator": "OsControl"}
    with pytest.raises(PermanentError, match="no hpe mapping"):
        desired_attributes(Vendor.HPE, profile=BiosProfile.DENSE_CONFIGURATION)


def test_registry_check_lists_every_problem() -> None:
    registry = Registry(
        id="R1",
        attributes={
            "SysProfile": AttributeSpec("SysProfile", "Enumeration", ("PerfOptimized", "Custom")),
            "Model": AttributeSpec("Model", "String", read_only=True),
            "Timeout": AttributeSpec("Timeout", "Integer", lower=1, upper=60),
        },
    )
    check_against_registry("esx01", registry, {"SysProfile": "Custom", "Timeout": 30})
    with pytest.raises(PermanentError) as caught:
        check_against_registry("esx01", registry, {"SysProfile": "Fast", "Model": "x", "Timeout": 90, "Nope": 1})
    assert str(caught.value) == (
        "BMC of esx01 (registry R1): SysProfile='Fast' is not valid (valid: PerfOptimized, Custom); Model is "
        "read-only; Timeout=90 is outside 1..60; Nope is not a BIOS attribute of this server"
    )
