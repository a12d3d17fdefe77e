"""vSphere settings from the environment and the login file, and task waiting (no vCenter needed)."""

from __future__ import annotations

import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.core.errors import TemporaryError
from reconciler.providers.vsphere.hosts import TaskProgress, Waiting, wait_for_task
from reconciler.providers.vsphere.session import Session
from reconciler.providers.vsphere.settings import Endpoint, SettingsError, VSphereSettings


def test_off_by_default_and_a_bad_switch_is_refused() -> None:
    assert VSphereSettings.from_env({}) is None
    assert VSphereSettings.from_env({"RECONCILER_VSPHERE": "off"}) is None
    with pytest.raises(SettingsError, match="RECONCILER_VSPHERE='maybe': use on or off"):
        VSphereSettings.from_env({"RECONCILER_VSPHERE": "maybe"})


def test_default_login_from_the_environment_never_shows_the_password() -> None:
    password = secrets.token_urlsafe(12)
    settings = VSphereSettings.from_env(
        {"RECONCILER_VSPHERE": "on", "RECONCILER_VSPHERE_USER": "svc", "RECONCILER_VSPHERE_PASSWORD": password}
    )
    assert settings is not None
    creds = settings.credentials("vc1.example.com")
    assert (creds.user, creds.password) == ("svc", password)
    assert password not in repr(settings) and password not in repr(creds)
    assert settings.verify and settings.endpoint("vc1.example.com") == Endpoint(
        "vc1.example.com", "vc1.example.com", 443
    )


def test_half_a_login_and_a_missing_login_name_the_fix() -> None:
    with pytest.raises(SettingsError, match="RECONCILER_VSPHERE_PASSWORD is not set"):
        VSphereSettings.from_env({"RECONCILER_VSPHERE": "on", "RECONCILER_VSPHERE_USER": "svc"})
    settings = VSphereSettings.from_env({"RECONCILER_VSPHERE": "on"})
    assert settings is not None
    with pytest.raises(SettingsError, match="no credentials for vCenter 'vc1': set RECONCILER_VSPHERE_USER"):
        settings.credentials("vc1")


def login_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "vsphere-login.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_login_file_gives_per_vcenter_logins_and_addresses(tmp_path: Path) -> None:
    default_pw, vc2_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    path = login_file(
        tmp_path,
        f'[default]\nuser = "svc"\npassword = "{default_pw}"\n\n'
        f'[servers."vc2.example.com"]\nuser = "svc2"\npassword = "{vc2_pw}"\naddress = "10.0.0.5:8443"\n',
    )
    settings = VSphereSettings.from_env({"RECONCILER_VSPHERE": "on", "RECONCILER_VSPHERE_LOGIN_FILE": str(path)})
    assert settings is not None
    assert settings.credentials("VC2.example.com").user == "svc2"
    assert settings.credentials("vc1.example.com").password == default_pw
    assert settings.endpoint("vc2.example.com") == Endpoint("vc2.example.com", "10.0.0.5", 8443)


def test_a_login_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = login_file(tmp_path, '[default]\nuser = "svc"\npassword = "x"\n', mode=0o644)
    with pytest.raises(SettingsError, match=f"readable by other users; it holds passwords: chmod 600 {path}"):
        VSphereSettings.from_env({"RECONCILER_VSPHERE": "on", "RECONCILER_VSPHERE_LOGIN_FILE": str(path)})


def test_servers_list_restricts_and_redirects() -> None:
    settings = VSphereSettings.from_env(
        {"RECONCILER_VSPHERE": "on", "RECONCILER_VSPHERE_SERVERS": "vc1.example.com, vc2.example.com=127.0.0.1:8989"}
    )
    assert settings is not None
    assert settings.endpoint("vc1.example.com", 444) == Endpoint("vc1.example.com", "vc1.example.com", 444)
    assert settings.endpoint("VC2.example.com") == Endpoint("VC2.example.com", "127.0.0.1", 8989)
    with pytest.raises(SettingsError, match=r"'vc3\.example\.com' is not in RECONCILER_VSPHERE_SERVERS"):
        settings.endpoint("vc3.example.com")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECONCILER_VSPHERE_TLS_VERIFY", "maybe", "use on"),
        ("RECONCILER_VSPHERE_TASK_TIMEOUT_S", "soon", "a number of seconds"),
        ("RECONCILER_VSPHERE_TIMEOUT_S", "0", "more than 0"),
        ("RECONCILER_VSPHERE_CA_BUNDLE", "/nonexistent/ca.pem", "no such file"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}.*{message}"):
        VSphereSettings.from_env({"RECONCILER_VSPHERE": "on", variable: value})


class StuckTask:
    """A task that stays running at 40%."""

    _moId = "task-7"

    @property
    def info(self) -> Any:
        return SimpleNamespace(state="running", progress=40, result=None, error=None)


def test_a_task_still_running_at_its_deadline_is_a_temporary_error() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    session = Session(endpoint=Endpoint("vc1", "vc1", 443), service_instance=None, content=None)
    seen: list[TaskProgress] = []
    with pytest.raises(TemporaryError, match="task task-7 still running after 10 s"):
        wait_for_task(
            session,
            StuckTask(),
            action="entering maintenance mode on host esx01",
            timeout_s=10,
            on_progress=seen.append,
            waiting=Waiting(sleep=sleep, clock=lambda: now[0], first_poll_s=1, max_poll_s=4),
        )
    assert slept == [1, 2, 4, 3], "the interval doubles up to its cap, and the last sleep stops at the deadline"
    assert seen == [TaskProgress("entering maintenance mode on host esx01", "running", 40)], "reported once"
