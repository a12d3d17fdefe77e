"""The example estate's VMM server and Hyper-V hosts behind the tests' WinRM endpoint: one endpoint on 127.0.0.1
stands for ``VMM01.contoso.int`` and ``HV01``-``HV03.contoso.int`` (their names resolve to it, its certificate
names them), and the VMM emulator (``tests/vmm_emulator.py``) answers each script as the machine it was sent to.

:func:`start` is what the tests' fixtures call; :func:`environment` the ``RECONCILER_WINRM_*`` settings that point
the tool at it (the ports and the test CA; VMM jobs and host restarts polled without waiting)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.engine import expand
from reconciler.spec.loader import load_paths
from tests.vmm_emulator import VmmEmulator
from tests.winrm_endpoint import WinRMEndpoint

DOMAIN = ".contoso.int"
MACHINES = ("VMM01.contoso.int", "HV01.contoso.int", "HV02.contoso.int", "HV03.contoso.int")


def resolve_to_localhost(monkeypatch: pytest.MonkeyPatch, domain: str = DOMAIN) -> None:
    """Names under ``domain`` resolve to 127.0.0.1, in this process (where the CLI runs, through CliRunner)."""
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.casefold().endswith(domain):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@contextmanager
def start(directory: Path, vmm: VmmEmulator, *, machines: tuple[str, ...] = MACHINES) -> Iterator[WinRMEndpoint]:
    """The endpoint for ``machines``, answering through ``vmm``, with a user ``CONTOSO\\svc-reconciler``."""
    endpoint = WinRMEndpoint(directory, names=machines)
    endpoint.add_user("CONTOSO\\svc-reconciler")
    endpoint.handler = vmm.handler_for(endpoint)
    with endpoint:
        yield endpoint
    assert not endpoint.handler_errors, f"the WinRM endpoint's handler failed: {endpoint.handler_errors!r}"


def environment(endpoint: WinRMEndpoint) -> dict[str, str]:
    """``RECONCILER_WINRM=on`` and the settings that reach ``endpoint`` for every machine (Basic over https)."""
    user = "CONTOSO\\svc-reconciler"
    return {
        "RECONCILER_WINRM": "on",
        "RECONCILER_WINRM_AUTH": "basic",
        "RECONCILER_WINRM_USER": user,
        "RECONCILER_WINRM_PASSWORD": endpoint.users[user],
        "RECONCILER_WINRM_PORT": str(endpoint.port),
        "RECONCILER_WINRM_CA_BUNDLE": endpoint.ca_path,
        "RECONCILER_WINRM_POLL_INTERVAL_S": "0",
        "RECONCILER_WINRM_RESTART_TIMEOUT_S": "30",
    }


def scripts_run(endpoint: WinRMEndpoint, *, since: int = 0) -> list[tuple[str, str, Any]]:
    """(machine, script, data) of every script the endpoint ran (from call ``since`` on)."""
    return [(c.host.rsplit(":", 1)[0], c.script, c.data) for c in endpoint.calls[since:]]


# Values that are the language of VMM and the specs, not something an operator named: they may appear in scripts.
VOCABULARY = frozenset({"uplinkMode", "teamingMode", "loadBalancing", "isolation", "platform", "powerPlan"})


def spec_values(specs: Path) -> set[str]:
    """Every name and free-text value ``specs`` give a VMM or Hyper-V object: what must never be in a script."""
    loaded = load_paths([specs])
    assert loaded.ok, loaded.diagnostics
    values: set[str] = set()
    for resource in expand.expand(loaded.specs):
        if resource.kind.startswith(("vmm.", "hyperv.", "host.")):
            values.add(resource.address.name)
            values |= {v for k, v in resource.desired.items() if isinstance(v, str) and k not in VOCABULARY}
    return values


def leaks(endpoint: WinRMEndpoint, values: set[str]) -> list[tuple[str, str]]:
    """(script, value) for each value found in a script text the endpoint received (command line, prelude, body)."""
    return [
        (call.script if len(call.script) < 40 else "a script", value)
        for call in endpoint.calls
        for text in (call.command_line, *call.texts)
        for value in values
        if value in text
    ]
