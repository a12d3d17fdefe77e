"""Shared test helpers: paths to the repository's example specs and fixtures, the history store on
both backends (``store_url``: SQLite, and PostgreSQL on a throwaway server, tests/pg.py), and the real
peers the provider client layers run against: ``vcsim`` (govmomi's vCenter simulator, tests/vcsim_server.py),
``redfish_bmc`` (sushy-tools' Redfish emulator with a Dell/HPE BIOS model, tests/redfish_server.py) and
``winrm_endpoint`` (a local WS-Management endpoint, tests/winrm_endpoint.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reconciler.store.db import Store, open_store

if TYPE_CHECKING:
    from tests.redfish_server import Bmc, BmcFactory
    from tests.vcsim_server import Vcsim
    from tests.winrm_endpoint import WinRMEndpoint

ROOT = Path(__file__).resolve().parent.parent


pytest_plugins = ["tests.azure_env"]  # the Azure fake and its fixtures (tests/azure_env.py)


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True, scope="session")
def _temporary_lock_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """apply takes scope locks in $RECONCILER_DATABASE_URL (default: .reconciler/state.db in the working
    directory): every test, and every subprocess it starts, uses a temporary database instead."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'state.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_DATABASE_URL", url)
        yield


@pytest.fixture(autouse=True, scope="session")
def _temporary_audit_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """apply appends audit events to $RECONCILER_AUDIT_LOG (default: .reconciler/audit.jsonl in the working
    directory): every test, and every subprocess it starts, writes to a temporary file instead."""
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_AUDIT_LOG", str(path))
        yield


@pytest.fixture(autouse=True, scope="session")
def _temporary_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI keeps parsed spec files in $RECONCILER_CACHE_DIR (default: ~/.cache/reconciler): every test, and
    every subprocess it starts, uses a temporary folder instead."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_CACHE_DIR", str(path))
        yield


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[str]:
    """A throwaway PostgreSQL server for the whole session (tests/pg.py); its URL. Skipped without the
    binaries, unless $RECONCILER_REQUIRE_POSTGRES=1 (make test, where it could install them): then it fails."""
    from tests import pg

    try:
        pg.bin_dir()
    except pg.Unavailable as exc:
        if os.environ.get(pg.ENV_REQUIRE, "").strip() == "1":
            pytest.fail(f"PostgreSQL required ({pg.ENV_REQUIRE}=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL leg skipped: {exc}")
    with pg.server() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store on each backend (``store_url`` below: SQLite, PostgreSQL); $RECONCILER_DATABASE_URL too."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The history store's URL, once per backend: a new SQLite file, or a new database on the throwaway
    PostgreSQL server. ``$RECONCILER_DATABASE_URL`` names it, for the commands the test runs."""
    from tests import pg

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store' / 'state.db'}"
        monkeypatch.setenv("RECONCILER_DATABASE_URL", url)
        yield url
        return
    server: str = request.getfixturevalue("postgresql_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with pg.fresh_database(server, name) as url:
        monkeypatch.setenv("RECONCILER_DATABASE_URL", url)
        yield url


@pytest.fixture
def winrm_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WinRMEndpoint]:
    """A WinRM endpoint over HTTPS on a free port of 127.0.0.1 (tests/winrm_endpoint.py), with a throwaway
    CA (``ca_path``) and two users made now, ``reconciler`` and ``CONTOSO\\svc-vmm`` (passwords in
    ``users``), for Basic and NTLM. Set ``handler`` to answer scripts. A handler that raised fails the test."""
    from tests.winrm_endpoint import WinRMEndpoint

    directory = tmp_path / "winrm-endpoint"
    endpoint = WinRMEndpoint(directory)
    endpoint.add_user("reconciler")
    endpoint.add_user("CONTOSO\\svc-vmm")
    monkeypatch.setenv("NTLM_USER_FILE", str(endpoint.ntlm_user_file(directory / "ntlm-users")))
    with endpoint:
        yield endpoint
    assert not endpoint.handler_errors, f"the WinRM endpoint's handler failed: {endpoint.handler_errors!r}"


def _require_or_skip(variable: str, reason: str) -> None:
    """Skip with the reason, or fail when ``variable``=1 says the peer must be there (make test, CI)."""
    if os.environ.get(variable, "").strip() == "1":
        pytest.fail(f"{reason} ({variable}=1 requires it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    """The vCenter simulator built from tests/vcsim (cached between runs). Skipped without Go, unless
    $RECONCILER_REQUIRE_VCSIM=1 (make test, where it could install Go): then it fails."""
    from tests import vcsim_server

    try:
        return vcsim_server.build()
    except vcsim_server.Unavailable as exc:
        _require_or_skip(vcsim_server.ENV_REQUIRE, f"vcsim tests skipped: {exc}")
        raise


@pytest.fixture(scope="session")
def vcsim(vcsim_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vcsim]:
    """One running vCenter simulator for the session (3 hosts in cluster DC0_C0, 2 VMs each): its URL,
    generated login, CA. Tests that change it (power policy, maintenance) put it back."""
    from tests import vcsim_server

    with vcsim_server.start(vcsim_binary, tmp_path_factory.mktemp("vcsim")) as server:
        yield server


@pytest.fixture(scope="session")
def redfish_bmcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BmcFactory]:
    """Starts Redfish BMC emulators on demand (one process per BMC, as each real BMC has its own address),
    all stopped at the end of the session. Skipped without sushy-tools, unless $RECONCILER_REQUIRE_REDFISH=1."""
    from tests import redfish_server

    try:
        redfish_server.check_available()
    except redfish_server.Unavailable as exc:
        _require_or_skip(redfish_server.ENV_REQUIRE, f"Redfish tests skipped: {exc}")
    with redfish_server.BmcFactory(tmp_path_factory.mktemp("redfish")) as factory:
        yield factory


@pytest.fixture
def redfish_bmc(redfish_bmcs: BmcFactory) -> Bmc:
    """A fresh Dell iDRAC-like BMC (its own process and state) for one test."""
    return redfish_bmcs.start(vendor="dell")
