"""WinRS shells kept open for a run: a pool per endpoint, bounded by the endpoint's concurrency.

A shell runs one command at a time, so an endpoint gets up to ``concurrency`` shells, each with its own
pywinrm ``Protocol`` (its own HTTP connection: NTLM and Kerberos authenticate a connection, and a requests
session is not meant to be shared between threads). A caller borrows an idle shell, or opens one while
under the limit, or waits for one. A shell that failed is closed and forgotten, never lent again. Opening
a shell costs an authentication and a Create round trip; reusing one costs nothing, which is the point.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from winrm.protocol import Protocol

from reconciler.providers.winrm.settings import CODEPAGE_UTF8, EndpointSettings

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[EndpointSettings], Protocol]


def open_protocol(endpoint: EndpointSettings) -> Protocol:
    """A pywinrm Protocol for ``endpoint``: its auth, certificate checks and timeouts. No proxy from the
    environment: an HTTPS_PROXY meant for Azure must not capture WinRM traffic to the datacenter."""
    kwargs: dict[str, Any] = {
        "endpoint": endpoint.url,
        "transport": endpoint.auth.value,
        "username": endpoint.username,
        "password": endpoint.password.reveal() if endpoint.password is not None else None,
        "server_cert_validation": "validate" if endpoint.cert_validation else "ignore",
        "ca_trust_path": endpoint.ca_bundle,
        "read_timeout_sec": endpoint.read_timeout_s,
        "operation_timeout_sec": endpoint.operation_timeout_s,
        "kerberos_delegation": endpoint.kerberos_delegation,
        "message_encryption": "auto",  # encrypted over http (ntlm, kerberos, credssp); TLS does it over https
        "proxy": None,
    }
    return Protocol(**kwargs)


@dataclass
class Shell:
    """An open WinRS shell and the connection it lives on."""

    protocol: Protocol
    shell_id: str
    commands: int = 0  # commands run in it: 0 until first used

    def close(self) -> None:
        """Delete the shell and drop its connection; failures are logged and forgotten."""
        try:
            self.protocol.close_shell(self.shell_id, close_session=True)
        except Exception as exc:  # closing is best effort: the shell may be gone with its server
            log.debug("closing WinRS shell %s failed: %s", self.shell_id, type(exc).__name__)


@dataclass(frozen=True)
class PoolStats:
    """A pool's state, for logs and tests."""

    open: int  # shells open (idle + busy)
    busy: int  # shells running a command
    waiting: int  # callers waiting for a shell
    opened: int  # shells opened since the pool was made


class ShellPool:
    """The shells of one endpoint."""

    def __init__(self, endpoint: EndpointSettings, *, factory: ProtocolFactory = open_protocol) -> None:
        self.endpoint = endpoint
        self._factory = factory
        self._idle: list[Shell] = []
        self._busy = 0
        self._waiting = 0
        self._opened = 0
        self._closed = False
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def shell(self) -> Iterator[Shell]:
        """Borrow a shell for one command. When the block raises, the shell is closed, not returned."""
        shell = self._acquire()
        try:
            yield shell
        except BaseException:
            self._release(shell, broken=True)
            raise
        self._release(shell, broken=False)

    def stats(self) -> PoolStats:
        with self._changed:
            return PoolStats(len(self._idle) + self._busy, self._busy, self._waiting, self._opened)

    def close(self) -> None:
        """Delete every idle shell; shells still busy are deleted when they are given back."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for shell in idle:
            shell.close()

    def _acquire(self) -> Shell:
        with self._changed:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise RuntimeError(f"the WinRM runner for {self.endpoint.host} is closed")
                    if self._idle:
                        self._busy += 1
                        return self._idle.pop()
                    if self._busy < self.endpoint.concurrency:
                        self._busy += 1  # reserve the slot, then open outside the lock
                        break
                    self._changed.wait()
            finally:
                self._waiting -= 1
        protocol: Protocol | None = None
        try:
            protocol = self._factory(self.endpoint)
            shell_id = protocol.open_shell(codepage=CODEPAGE_UTF8, noprofile=True)
        except BaseException:
            if protocol is not None:
                protocol.transport.close_session()  # no half-authenticated connection left in a pool
            with self._changed:
                self._busy -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._opened += 1
        log.debug("opened WinRS shell %s on %s", shell_id, self.endpoint.host)
        return Shell(protocol, shell_id)

    def _release(self, shell: Shell, *, broken: bool) -> None:
        with self._changed:
            self._busy -= 1
            keep = not broken and not self._closed
            if keep:
                self._idle.append(shell)
            self._changed.notify()
        if not keep:
            shell.close()
