"""The BMC connections of one run: one signed-in backend per BMC (``model.BmcBackend``: Redfish today, a
WS-Man or racadm backend for BMCs without Redfish later), opened on first use, used by one thread at a time,
and closed together. What a BMC says once per connection is kept with it: its attribute registry (large on an
iDRAC) and whether the server's manufacturer matches the vendor the spec names.

A call that fails temporarily drops its connection, so the engine's retry signs in again (a BMC reset, an
expired session); a setting that cannot serve a BMC (no login for it, an http:// address) is a permanent error
naming the host."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reconciler.core.errors import PermanentError, TemporaryError
from reconciler.providers.bmc.context import BmcRef
from reconciler.providers.bmc.model import BmcBackend, Registry
from reconciler.providers.bmc.settings import BmcSettings, SettingsError

T = TypeVar("T")
Opener = Callable[[BmcSettings, BmcRef], BmcBackend]

# What a server's manufacturer (Redfish ComputerSystem.Manufacturer) says about the spec's vendor.
_MANUFACTURERS = {"dell": ("dell",), "hpe": ("hpe", "hewlett", "hp ")}


def open_redfish(settings: BmcSettings, ref: BmcRef) -> BmcBackend:
    """The Redfish backend (iDRAC 7 and later, iLO 4 and later, any DMTF-conformant BMC)."""
    from reconciler.providers.bmc.redfish_backend import RedfishBmc

    target = settings.target(host=ref.host, address=ref.address, vendor=ref.vendor)
    return RedfishBmc(settings, target, spec_address=ref.address)


@dataclass
class _Slot:
    lock: threading.RLock = field(default_factory=threading.RLock)
    backend: BmcBackend | None = None
    registry: Registry | None = None
    checked: bool = False  # the manufacturer was compared with the spec's vendor


class Bmcs:
    def __init__(self, settings: BmcSettings, *, opener: Opener = open_redfish) -> None:
        self.settings = settings
        self._opener = opener
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def call(self, ref: BmcRef, work: Callable[[BmcBackend], T]) -> T:
        """``work`` with the host's BMC, signed in; one call per BMC at a time."""
        with self._lock:
            slot = self._slots.setdefault(ref.scope, _Slot())
        with slot.lock:
            try:
                if slot.backend is None:
                    slot.backend = self._opener(self.settings, ref)
                if not slot.checked:
                    _check_vendor(ref, slot.backend)
                    slot.checked = True
                return work(slot.backend)
            except SettingsError as exc:
                raise PermanentError(f"host {ref.host}: {exc}", code="Settings") from exc
            except TemporaryError:
                self._drop(slot)
                raise

    def registry(self, ref: BmcRef) -> Registry:
        """The BMC's BIOS attribute registry, read once per connection."""

        def read(bmc: BmcBackend) -> Registry:
            slot = self._slots[ref.scope]
            if slot.registry is None:
                slot.registry = bmc.registry()
            return slot.registry

        return self.call(ref, read)

    @staticmethod
    def _drop(slot: _Slot) -> None:
        if slot.backend is not None:
            slot.backend.close()
        slot.backend, slot.registry, slot.checked = None, None, False

    def close(self) -> None:
        with self._lock:
            slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            with slot.lock:
                self._drop(slot)


def _check_vendor(ref: BmcRef, bmc: BmcBackend) -> None:
    """Refuse a BMC whose server another vendor made than the spec says: its attributes would not apply."""
    names = _MANUFACTURERS.get(ref.vendor)
    if names is None:
        return  # generic: any manufacturer
    manufacturer = bmc.system().manufacturer
    if manufacturer and not any(n in f"{manufacturer.casefold()} " for n in names):
        raise PermanentError(
            f"host {ref.host}: the spec says its BMC is vendor {ref.vendor}, but the server's manufacturer is "
            f"{manufacturer!r}: fix hosts[].bmc.vendor in the Site spec",
            code="VendorMismatch",
        )
