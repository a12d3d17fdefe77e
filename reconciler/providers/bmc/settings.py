"""How the BMC client reaches and signs in to each server's BMC, from the environment (never from the specs).

``RECONCILER_BMC=on`` turns the BMC client on. Each host's BMC address and vendor come from the Site spec
(``hosts[].bmc``). Credentials, per BMC or one default for all:

- ``RECONCILER_BMC_USER`` and ``RECONCILER_BMC_PASSWORD``, the default login;
- ``RECONCILER_BMC_LOGIN_FILE``, a TOML file readable by its owner only, with ``[default]`` and
  ``[bmcs."NAME"]`` tables (NAME: the host's name, or the BMC's address or host part) of ``user``,
  ``password`` and an optional ``address`` (a URL to dial instead of the spec's: a lab, the tests' emulator).

TLS: certificates are validated against the system's CAs, or ``RECONCILER_BMC_CA_BUNDLE`` (a PEM file; BMCs
often carry certificates of the organisation's own CA); ``RECONCILER_BMC_TLS_VERIFY=off`` turns validation off
for a lab. ``RECONCILER_BMC_AUTH``: ``session`` (default: a Redfish session, falling back to basic where the
BMC has no session service) or ``basic``. Timeouts: ``RECONCILER_BMC_TIMEOUT_S`` (one request, default 30),
``RECONCILER_BMC_APPLY_TIMEOUT_S`` (a reset until the settings applied, default 1800: servers with much
memory take long to POST).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.providers import switches
from reconciler.providers.loginfile import Login, LoginFile, LoginFileError, read_login_file

AUTH_MODES = ("session", "basic")


class SettingsError(ValueError):
    """A RECONCILER_BMC_* setting is wrong; the message names the variable (or file) and the fix."""


@dataclass(frozen=True)
class BmcTarget:
    """One BMC to connect to: the host it manages, the URL dialled, the vendor the spec names."""

    host: str
    url: str  # https://ADDRESS[:PORT], no path
    vendor: str  # dell, hpe, generic


@dataclass(frozen=True)
class BmcSettings:
    default_login: Login | None = None
    login_file: LoginFile | None = None
    ca_bundle: str | None = None
    verify: bool = True
    auth: str = "session"
    timeout_s: float = 30.0
    apply_timeout_s: float = 1800.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BmcSettings | None:
        """The settings, or None when the client is off (the default: the embedded estate serves BIOS)."""
        e = os.environ if env is None else env
        if not switches.backend_on(e, "RECONCILER_BMC", error=SettingsError, alias="redfish"):
            return None
        user, password = e.get("RECONCILER_BMC_USER", ""), e.get("RECONCILER_BMC_PASSWORD", "")
        if bool(user) != bool(password):
            missing = "RECONCILER_BMC_PASSWORD" if user else "RECONCILER_BMC_USER"
            raise SettingsError(f"{missing} is not set: give both the user and the password, or neither")
        login_file: LoginFile | None = None
        if e.get("RECONCILER_BMC_LOGIN_FILE"):
            try:
                login_file = read_login_file(
                    Path(e["RECONCILER_BMC_LOGIN_FILE"]), section="bmcs", variable="RECONCILER_BMC_LOGIN_FILE"
                )
            except LoginFileError as exc:
                raise SettingsError(str(exc)) from None
            for name, address in login_file.addresses.items():
                if not address.startswith("https://"):
                    raise SettingsError(f'{login_file.path}: [bmcs."{name}"] address={address!r}: an https:// URL')
        ca = e.get("RECONCILER_BMC_CA_BUNDLE") or None
        if ca is not None and not Path(ca).is_file():
            raise SettingsError(f"RECONCILER_BMC_CA_BUNDLE={ca!r}: no such file (a PEM bundle of CA certificates)")
        verify = e.get("RECONCILER_BMC_TLS_VERIFY", "on").strip().casefold()
        if verify not in switches.ON | switches.OFF or verify == "":
            raise SettingsError(f"RECONCILER_BMC_TLS_VERIFY={verify!r}: use on (the default) or off")
        auth = e.get("RECONCILER_BMC_AUTH", "session").strip().casefold() or "session"
        if auth not in AUTH_MODES:
            raise SettingsError(f"RECONCILER_BMC_AUTH={auth!r}: use session (the default) or basic")
        return cls(
            default_login=Login(user, password) if user else None,
            login_file=login_file,
            ca_bundle=ca,
            verify=verify in switches.ON,
            auth=auth,
            timeout_s=_seconds(e, "RECONCILER_BMC_TIMEOUT_S", 30.0),
            apply_timeout_s=_seconds(e, "RECONCILER_BMC_APPLY_TIMEOUT_S", 1800.0),
        )

    def target(self, *, host: str, address: str, vendor: str) -> BmcTarget:
        """Where to reach the BMC of ``host`` (the spec's ``bmc.address``, unless the login file redirects)."""
        url = self._names(host, address)
        override = self.login_file.address_for(*url) if self.login_file else None
        chosen = (override or address).rstrip("/")
        if not chosen.startswith("https://"):
            raise SettingsError(f"host {host}: BMC address {chosen!r} must be an https:// URL (Redfish runs over TLS)")
        return BmcTarget(host=host, url=chosen, vendor=vendor)

    def login(self, target: BmcTarget, *, spec_address: str | None = None) -> Login:
        """The login for one BMC: its own table in the login file, else the file's [default], else the
        environment's."""
        names = self._names(target.host, spec_address or target.url)
        found = (self.login_file.login_for(*names) if self.login_file else None) or self.default_login
        if found is None:
            where = f' or a [bmcs."{target.host}"] table in {self.login_file.path}' if self.login_file else ""
            raise SettingsError(
                f"no credentials for the BMC of {target.host}: set RECONCILER_BMC_USER and RECONCILER_BMC_PASSWORD"
                f"{where} (or RECONCILER_BMC_LOGIN_FILE)"
            )
        return found

    def cafile(self) -> str | None:
        """What certificates are checked against: the CA bundle, else the system's (None: not checked)."""
        if not self.verify:
            return None
        if self.ca_bundle:
            return self.ca_bundle
        import requests.utils

        return str(requests.utils.DEFAULT_CA_BUNDLE_PATH)

    @staticmethod
    def _names(host: str, address: str) -> tuple[str, ...]:
        parsed = urllib.parse.urlsplit(address if "//" in address else f"https://{address}")
        return tuple(n for n in (host, address.rstrip("/"), parsed.netloc, parsed.hostname or "") if n)


def _seconds(e: Mapping[str, str], name: str, default: float) -> float:
    text = e.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: a number of seconds") from None
    if value <= 0:
        raise SettingsError(f"{name}={text!r}: must be more than 0 seconds")
    return value
