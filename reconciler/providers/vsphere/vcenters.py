"""What the vSphere handlers share for one run: a signed-in session per vCenter (reopened after vCenter expired
it), and where each host is (its managed object id, learnt from every bulk read of the hosts), so that a single
host is re-read with one small request rather than the whole inventory.

Every call into the client layer goes through :meth:`Vcenters.call`, which turns a setting that cannot serve
this vCenter (no credentials for it, not in ``RECONCILER_VSPHERE_SERVERS``) into a permanent error naming it, and
drops an expired session so that the engine's retry signs in again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from pyVmomi import vim

from reconciler.core.errors import NotFoundError, PermanentError, TemporaryError
from reconciler.core.resources import Resource
from reconciler.providers.vsphere import hosts as host_ops
from reconciler.providers.vsphere import inventory
from reconciler.providers.vsphere.context import VCenterRef, VSphereContext
from reconciler.providers.vsphere.inventory import HostInfo
from reconciler.providers.vsphere.session import Session, Sessions
from reconciler.providers.vsphere.settings import SettingsError, VSphereSettings

T = TypeVar("T")


class Vcenters:
    """The vCenters of one provider instance (one run): sessions, and the hosts' managed object ids."""

    def __init__(self, settings: VSphereSettings, context: VSphereContext, *, sessions: Sessions | None = None) -> None:
        self.settings = settings
        self.context = context
        self.sessions = sessions if sessions is not None else Sessions(settings)
        self._moids: dict[tuple[str, str], str] = {}  # (vCenter scope, host name casefolded) -> moid
        self._lock = threading.Lock()

    def call(self, ref: VCenterRef, work: Callable[[Session], T]) -> T:
        """``work`` with the vCenter's session. An expired session is dropped (the retry signs in again)."""
        try:
            session = self.sessions.get(ref.server, ref.port)
        except SettingsError as exc:
            raise PermanentError(f"site {ref.site}: {exc}", code="Settings") from exc
        try:
            return work(session)
        except TemporaryError as exc:
            if isinstance(exc.__cause__, vim.fault.NotAuthenticated):
                self.sessions.reopen(ref.server, ref.port)
            raise

    def hosts(self, ref: VCenterRef) -> list[HostInfo]:
        """Every host of the vCenter, in one round trip; their ids are remembered for single reads."""
        found = self.call(ref, inventory.read_hosts)
        with self._lock:
            for host in found:
                self._moids[(ref.scope, host.name.casefold())] = host.moid
        return found

    def find(self, resource: Resource) -> tuple[VCenterRef, HostInfo]:
        """The host a per-host resource (``kind:SITE/HOST``) names, as it is now (one small read once its id is
        known). NotFoundError when the vCenter has no such host."""
        ref = self.context.vcenter(resource)
        name = resource.address.name
        key = (ref.scope, name.casefold())
        with self._lock:
            moid = self._moids.get(key)
        if moid is not None:
            try:
                return ref, self.call(ref, lambda session: host_ops.read_host(session, moid))
            except PermanentError as exc:
                if exc.code != "ManagedObjectNotFound":
                    raise
                with self._lock:  # removed and added again under another id: look it up by name
                    self._moids.pop(key, None)
        for host in self.hosts(ref):
            if host.name.casefold() == name.casefold():
                return ref, host
        raise NotFoundError(f"vCenter {ref.server} has no host {name!r} (site {ref.site})", code="HostNotFound")

    def close(self) -> None:
        self.sessions.close()
