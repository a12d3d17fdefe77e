"""Resource provider registration: a subscription must be registered for a namespace (Microsoft.RecoveryServices,
Microsoft.Storage, Microsoft.Network) before anything of it can be created there. A new tenant subscription
often is not, and ARM refuses the first write with 409 MissingSubscriptionRegistration.

The provider does not guess in advance which subscription lacks what: a write that meets that refusal
(``arm.RegistrationRequired``, which names the subscription and namespace) registers the namespace (POST
``/subscriptions/{s}/providers/{namespace}/register``, which needs Contributor or Owner on the subscription),
waits until the provider reads ``Registered`` (bounded by ``RECONCILER_AZURE_REGISTRATION_TIMEOUT_S``, progress
on the way: it can take minutes), and writes again, once. Each (subscription, namespace) is registered at most
once per run, however many steps meet it at the same time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reconciler.core.errors import PermanentError
from reconciler.providers.azure import arm
from reconciler.providers.azure.session import Family, Session
from reconciler.providers.base import Progress


class Registrations:
    def __init__(
        self,
        session: Session,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._done: set[tuple[str, str]] = set()

    def retrying(self, action: Callable[[], None], report: Progress) -> None:
        """Run ``action`` (a write); if its subscription lacks a namespace it needs, register it and run it
        again."""
        try:
            action()
            return
        except arm.RegistrationRequired as exc:
            self.ensure(exc.subscription, exc.namespace, report)
        action()

    def ensure(self, subscription: str, namespace: str, report: Progress) -> None:
        """Register ``namespace`` on ``subscription`` and wait until it is Registered."""
        key = (subscription.casefold(), namespace.casefold())
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._done:
                return
            self._register(subscription, namespace, report)
            self._done.add(key)

    def _register(self, subscription: str, namespace: str, report: Progress) -> None:
        providers = self.session.client(
            Family.RESOURCES, subscription, self.session.ad_tenant_of(subscription)
        ).providers
        what = f"register resource provider {namespace} on subscription {subscription}"
        with arm.boundary(what):
            providers.register(namespace)
        timeout = self.session.settings.registration_timeout_s
        deadline = self._clock() + timeout
        last = ""
        while True:
            with arm.boundary(what):
                state = str(getattr(providers.get(namespace), "registration_state", "") or "Unknown")
            if state != last:
                report(f"{what}: {state}")
                last = state
            if state.casefold() == "registered":
                return
            if self._clock() > deadline:
                raise PermanentError(
                    f"{what}: still {state} after {timeout:g}s; registration can take a while: run apply again "
                    "later, or register it yourself (az provider register --namespace "
                    f"{namespace} --subscription {subscription})",
                    code="RegistrationTimeout",
                )
            self._sleep(self.session.settings.polling_interval_s)
