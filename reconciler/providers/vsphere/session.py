"""Sessions to vCenter: one login per vCenter, reused by every read and write of a run, closed at the end.

``connect`` signs in with pyVmomi's ``SmartConnect`` (which negotiates the API version) over an SSL
context that validates the certificate against the system's CAs or ``RECONCILER_VSPHERE_CA_BUNDLE``;
``Sessions`` keeps one ``Session`` per vCenter, opens it on first use and logs out of all of them on
``close``. A session that vCenter expired (``NotAuthenticated``) is reopened by ``Sessions.reopen``.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pyVim import connect

from reconciler.providers.vsphere.faults import boundary
from reconciler.providers.vsphere.settings import Endpoint, VSphereSettings


def ssl_context(settings: VSphereSettings) -> ssl.SSLContext:
    """TLS 1.2 or later; certificates and host names checked unless RECONCILER_VSPHERE_TLS_VERIFY=off."""
    context = ssl.create_default_context(cafile=settings.ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class Session:
    """A signed-in connection to one vCenter: its ServiceInstance and what the reads need from it."""

    endpoint: Endpoint
    service_instance: Any  # vim.ServiceInstance
    content: Any  # vim.ServiceInstanceContent
    _counters: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def server(self) -> str:
        return self.endpoint.server

    def counter_key(self, name: str) -> int | None:
        """The performance counter key of ``group.name.rollup`` (e.g. ``cpu.ready.summation``), read once
        from ``perfManager.perfCounter`` (QueryPerfCounter is avoided: some vCenter simulators crash on it)."""
        if not self._counters:
            with boundary(server=self.server, action="reading the performance counters"):
                for counter in self.content.perfManager.perfCounter:
                    full = f"{counter.groupInfo.key}.{counter.nameInfo.key}.{counter.rollupType}"
                    self._counters.setdefault(full, int(counter.key))
        return self._counters.get(name)

    def close(self) -> None:
        """Log out; a session already gone is not an error."""
        with contextlib.suppress(Exception):  # a session already gone has nothing left to log out of
            self.content.sessionManager.Logout()
        stub = getattr(self.service_instance, "_stub", None)
        if stub is not None:
            stub.DropConnections()


def connect_session(settings: VSphereSettings, endpoint: Endpoint) -> Session:
    """Sign in to one vCenter. Raises the engine's errors (a refused login names the vCenter)."""
    creds = settings.credentials(endpoint.server)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyVmomi warns about unverified contexts; the settings decided that
        with boundary(server=endpoint.server, action="signing in"):
            si = connect.SmartConnect(
                host=endpoint.address,
                port=endpoint.port,
                user=creds.user,
                pwd=creds.password,
                sslContext=ssl_context(settings),
                httpConnectionTimeout=int(settings.timeout_s),
            )
            # SmartConnect also sets pyVmomi's process-wide "current" instance: keep it from leaking.
            if connect.GetSi() is si:
                connect.SetSi(None)
            content = si.RetrieveContent()
    return Session(endpoint=endpoint, service_instance=si, content=content)


class Sessions:
    """One session per vCenter for a run: opened on first use, reused, closed together."""

    def __init__(
        self,
        settings: VSphereSettings,
        *,
        opener: Callable[[VSphereSettings, Endpoint], Session] = connect_session,
    ) -> None:
        self.settings = settings
        self._opener = opener
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, server: str, port: int = 443) -> Session:
        endpoint = self.settings.endpoint(server, port)
        key = server.casefold()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = self._opener(self.settings, endpoint)
            return session

    def reopen(self, server: str, port: int = 443) -> Session:
        """Drop the vCenter's session and sign in again (after vCenter expired it)."""
        with self._lock:
            old = self._sessions.pop(server.casefold(), None)
        if old is not None:
            old.close()
        return self.get(server, port)

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def __enter__(self) -> Sessions:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def container_view(session: Session, types: list[type[Any]]) -> Any:
    """A recursive ContainerView of ``types`` over the whole inventory (destroy it when done)."""
    content = session.content
    return content.viewManager.CreateContainerView(content.rootFolder, types, True)
