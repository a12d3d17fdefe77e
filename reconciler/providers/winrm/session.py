"""The provider's connection to VMM and the Hyper-V hosts: which endpoint serves a site or a host (from the
specs' context and the settings), running a shipped script on it through the transport (``transport.Runner``),
and the one place a missing object becomes ``NotFoundError`` (a PowerShell error of category
``ObjectNotFound``). Handlers never run a script any other way.

It also holds the read snapshots: a kind family's read script (``vmm_networks.ps1`` answers logical networks,
network sites and IP pools at once) runs once per VMM server for a read pass, and each kind of the family takes
its part of that one answer. A part is taken once: a kind that asks again starts a new run (a new pass). Every
write on a VMM server drops its snapshots, and a snapshot older than ``SNAPSHOT_MAX_AGE_S`` is never served,
so a long-lived ``watch`` never reads a stale answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.errors import NotFoundError
from reconciler.providers.winrm.context import SiteRef, WinRMContext
from reconciler.providers.winrm.contract import ScriptResult
from reconciler.providers.winrm.errors import ScriptError
from reconciler.providers.winrm.settings import EndpointSettings, Scheme, WinRMSettings

SNAPSHOT_MAX_AGE_S = 60.0


class ScriptRunner(Protocol):
    """What the session runs scripts through: ``transport.Runner`` (tests give it another)."""

    def run(self, endpoint: EndpointSettings, script: str, data: Mapping[str, Any] | None = None) -> ScriptResult: ...

    def close(self) -> None: ...


@dataclass
class _Snapshot:
    """One run of a family's read script, shared by the kinds of the family."""

    started: float
    taken: set[str] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)
    output: Mapping[str, Any] | None = None
    error: BaseException | None = None


class Session:
    def __init__(
        self,
        settings: WinRMSettings,
        context: WinRMContext,
        runner: ScriptRunner,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.context = context
        self.runner = runner
        self._clock = clock
        self._snapshots: dict[tuple[str, str], _Snapshot] = {}
        self._lock = threading.Lock()

    # --- endpoints ----------------------------------------------------------------------------------------

    def vmm_endpoint(self, site: SiteRef) -> EndpointSettings:
        """The site's VMM server, reached the way the specs say (``vmm.transport``, ``vmm.port``) unless the
        environment overrides it for that server."""
        scheme = Scheme(site.scheme) if site.scheme else None
        return self.settings.endpoint(site.server, scheme=scheme, port=site.port)

    def host_endpoint(self, host: str) -> EndpointSettings:
        return self.settings.endpoint(host)

    # --- running scripts ------------------------------------------------------------------------------------

    def run(self, endpoint: EndpointSettings, script: str, data: Mapping[str, Any]) -> tuple[Any, ...]:
        """The objects ``script`` wrote. A PowerShell error of category ObjectNotFound is ``NotFoundError``;
        every other failure is what the transport raised (``errors.py``)."""
        try:
            return self.runner.run(endpoint, script, data).output
        except ScriptError as exc:
            if exc.record.category.casefold() == "objectnotfound":
                raise NotFoundError(str(exc), code=exc.code or "ObjectNotFound") from exc
            raise

    def vmm(self, site: SiteRef, script: str, data: Mapping[str, Any]) -> tuple[Any, ...]:
        """Run ``script`` on the site's VMM server."""
        return self.run(self.vmm_endpoint(site), script, data)

    def write(self, site: SiteRef, script: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Run a write on the site's VMM server: its one result object (``{"jobs": [...], ...}``). The server's
        read snapshots are dropped first, so no later read serves what was there before."""
        self.invalidate(site)
        output = self.vmm(site, script, data)
        first = output[0] if output else {}
        return dict(first) if isinstance(first, Mapping) else {}

    def on_host(self, host: str, script: str, data: Mapping[str, Any]) -> tuple[Any, ...]:
        """Run ``script`` on a Hyper-V host itself (WMI, powercfg)."""
        return self.run(self.host_endpoint(host), script, data)

    # --- read snapshots ---------------------------------------------------------------------------------------

    def family(self, site: SiteRef, script: str, *, kind: str, kinds: frozenset[str]) -> Mapping[str, Any]:
        """The answer of ``script`` (a family's read, every kind of ``kinds``) for ``kind``: one run serves each
        kind of the family once."""
        key = (site.server.casefold(), script)
        now = self._clock()
        with self._lock:
            snap = self._snapshots.get(key)
            fresh = snap is not None and kind not in snap.taken and now - snap.started <= SNAPSHOT_MAX_AGE_S
            if snap is None or not fresh:
                snap = self._snapshots[key] = _Snapshot(started=now)
                runs = True
            else:
                runs = False
            snap.taken.add(kind)
            if snap.taken >= kinds:
                self._snapshots.pop(key, None)  # every kind has its part: the next read is a new pass
        if runs:
            try:
                output = self.vmm(site, script, {"operation": "read", "kinds": sorted(kinds), "names": None})
                first = output[0] if output else {}
                snap.output = first if isinstance(first, Mapping) else {}
            except BaseException as exc:
                snap.error = exc
                with self._lock:
                    if self._snapshots.get(key) is snap:
                        del self._snapshots[key]
                raise
            finally:
                snap.done.set()
        else:
            snap.done.wait()
            if snap.error is not None:
                raise snap.error
        assert snap.output is not None
        return snap.output

    def invalidate(self, site: SiteRef) -> None:
        """Drop the server's read snapshots (after a write)."""
        server = site.server.casefold()
        with self._lock:
            for key in [k for k in self._snapshots if k[0] == server]:
                del self._snapshots[key]

    def close(self) -> None:
        self.runner.close()
