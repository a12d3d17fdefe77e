"""Where the vSphere client connects and how it signs in, from the environment (never from the specs).

``RECONCILER_VSPHERE=on`` turns the vSphere provider on. The vCenter servers are the ones the Site specs
name (``spec.vcenter.server``); ``RECONCILER_VSPHERE_SERVERS`` optionally restricts them to a list and can
point a name at another address (``vcenter01.example.com=10.0.0.5:443``: a jump host, a lab, the tests'
simulator). Credentials, per vCenter or one default for all:

- ``RECONCILER_VSPHERE_USER`` and ``RECONCILER_VSPHERE_PASSWORD``, the default login;
- ``RECONCILER_VSPHERE_LOGIN_FILE``, a TOML file readable by its owner only (like an SSH key), with a
  ``[default]`` table and ``[servers."NAME"]`` tables of ``user``, ``password`` and an optional ``address``.
  A server's own table wins over ``[default]``, which wins over the environment.

TLS: certificates are validated against the system's CAs, or ``RECONCILER_VSPHERE_CA_BUNDLE`` (a PEM file);
``RECONCILER_VSPHERE_TLS_VERIFY=off`` turns validation off for a lab and says so on every connection.
Timeouts: ``RECONCILER_VSPHERE_TIMEOUT_S`` (one HTTP request, default 60), ``RECONCILER_VSPHERE_TASK_TIMEOUT_S``
(a vCenter task, default 1800), ``RECONCILER_VSPHERE_MAINTENANCE_TIMEOUT_S`` (entering maintenance mode,
which waits for DRS to move the VMs away, default 3600). A host rollout's reset is confirmed by polling the host
every ``RECONCILER_VSPHERE_RESTART_POLL_S`` (default 15) for at most ``RECONCILER_VSPHERE_RESTART_TIMEOUT_S``
(default 1800: a server with much memory takes long to POST). CPU ready is averaged over the last
``RECONCILER_VSPHERE_READY_SAMPLES`` real-time samples of 20 s (default 15: five minutes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.providers import switches
from reconciler.providers.loginfile import Login, LoginFileError, read_login_file

DEFAULT_PORT = 443


class SettingsError(ValueError):
    """A RECONCILER_VSPHERE_* setting is wrong; the message names the variable (or file) and the fix."""


Credentials = Login  # a user and a password that is never printed


@dataclass(frozen=True)
class Endpoint:
    """Where to reach one vCenter: the name the specs use, and the address and port actually dialled."""

    server: str
    address: str
    port: int


@dataclass(frozen=True)
class VSphereSettings:
    servers: Mapping[str, Endpoint] | None = None  # None: any vCenter the specs name, at its own address
    default_credentials: Credentials | None = None
    server_credentials: Mapping[str, Credentials] = field(default_factory=dict)
    addresses: Mapping[str, Endpoint] = field(default_factory=dict)  # the login file's address overrides
    ca_bundle: str | None = None
    verify: bool = True
    timeout_s: float = 60.0
    task_timeout_s: float = 1800.0
    maintenance_timeout_s: float = 3600.0
    restart_poll_s: float = 15.0
    restart_timeout_s: float = 1800.0
    ready_samples: int = 15
    login_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VSphereSettings | None:
        """The settings, or None when the provider is off (the default: the embedded estate serves vSphere)."""
        e = os.environ if env is None else env
        if not switches.backend_on(e, "RECONCILER_VSPHERE", error=SettingsError, alias="vsphere"):
            return None
        servers = _servers(e.get("RECONCILER_VSPHERE_SERVERS", ""))
        default: Credentials | None = None
        user, password = e.get("RECONCILER_VSPHERE_USER", ""), e.get("RECONCILER_VSPHERE_PASSWORD", "")
        if user and password:
            default = Credentials(user, password)
        elif user or password:
            missing = "RECONCILER_VSPHERE_PASSWORD" if user else "RECONCILER_VSPHERE_USER"
            raise SettingsError(f"{missing} is not set: give both the user and the password, or neither")
        per_server: dict[str, Credentials] = {}
        login_file = e.get("RECONCILER_VSPHERE_LOGIN_FILE") or None
        addresses: dict[str, Endpoint] = {}
        if login_file is not None:
            try:
                logins = read_login_file(Path(login_file), section="servers", variable="RECONCILER_VSPHERE_LOGIN_FILE")
            except LoginFileError as exc:
                raise SettingsError(str(exc)) from None
            default = logins.default or default
            per_server = dict(logins.logins)
            addresses = {
                name: _endpoint(name, text, f"{login_file} [servers.{name!r}]")
                for name, text in logins.addresses.items()
            }
        ca = e.get("RECONCILER_VSPHERE_CA_BUNDLE") or None
        if ca is not None and not Path(ca).is_file():
            raise SettingsError(f"RECONCILER_VSPHERE_CA_BUNDLE={ca!r}: no such file (a PEM bundle of CA certificates)")
        verify_text = e.get("RECONCILER_VSPHERE_TLS_VERIFY", "on").strip().casefold()
        if verify_text not in switches.ON | switches.OFF or verify_text == "":
            raise SettingsError(f"RECONCILER_VSPHERE_TLS_VERIFY={verify_text!r}: use on (the default) or off")
        settings = cls(
            servers=servers,
            default_credentials=default,
            server_credentials=per_server,
            addresses=addresses,
            ca_bundle=ca,
            verify=verify_text in switches.ON,
            timeout_s=_seconds(e, "RECONCILER_VSPHERE_TIMEOUT_S", 60.0),
            task_timeout_s=_seconds(e, "RECONCILER_VSPHERE_TASK_TIMEOUT_S", 1800.0),
            maintenance_timeout_s=_seconds(e, "RECONCILER_VSPHERE_MAINTENANCE_TIMEOUT_S", 3600.0),
            restart_poll_s=_seconds(e, "RECONCILER_VSPHERE_RESTART_POLL_S", 15.0, zero=True),
            restart_timeout_s=_seconds(e, "RECONCILER_VSPHERE_RESTART_TIMEOUT_S", 1800.0),
            ready_samples=_samples(e, "RECONCILER_VSPHERE_READY_SAMPLES", 15),
            login_file=login_file,
        )
        return settings

    def endpoint(self, server: str, port: int = DEFAULT_PORT) -> Endpoint:
        """Where to dial the vCenter a spec names; refused when RECONCILER_VSPHERE_SERVERS does not list it."""
        key = server.casefold()
        listed: Endpoint | None = None
        if self.servers is not None:
            listed = next((ep for name, ep in self.servers.items() if name.casefold() == key), None)
            if listed is None:
                raise SettingsError(
                    f"vCenter {server!r} is not in RECONCILER_VSPHERE_SERVERS ({', '.join(sorted(self.servers))}): "
                    "add it there, or fix spec.vcenter.server"
                )
        override = next((ep for name, ep in self.addresses.items() if name.casefold() == key), None)
        chosen = override or listed
        if chosen is None:
            return Endpoint(server, server, port)
        return Endpoint(server, chosen.address, chosen.port or port)  # port 0: the one the spec gives

    def credentials(self, server: str) -> Credentials:
        """The login for one vCenter: its own entry in the login file, else the default."""
        for name, creds in self.server_credentials.items():
            if name.casefold() == server.casefold():
                return creds
        if self.default_credentials is not None:
            return self.default_credentials
        where = f" or a [servers.{server!r}] table in {self.login_file}" if self.login_file else ""
        raise SettingsError(
            f"no credentials for vCenter {server!r}: set RECONCILER_VSPHERE_USER and RECONCILER_VSPHERE_PASSWORD"
            f"{where} (or RECONCILER_VSPHERE_LOGIN_FILE)"
        )


def _servers(text: str) -> dict[str, Endpoint] | None:
    if not text.strip():
        return None
    servers: dict[str, Endpoint] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, address = (p.strip() for p in item.partition("="))
        servers[name] = _endpoint(name, address, "RECONCILER_VSPHERE_SERVERS") if address else Endpoint(name, name, 0)
    return servers


def _endpoint(name: str, address: str, where: str) -> Endpoint:
    host, port = address, DEFAULT_PORT
    if address.count(":") == 1:  # host:port (an IPv6 address without brackets has several colons)
        host, port_text = address.split(":")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"{where}: {address!r} for {name!r}: the port must be a number") from None
    elif address.startswith("[") and "]:" in address:
        host, port_text = address[1:].split("]:")
        port = int(port_text) if port_text.isdigit() else DEFAULT_PORT
    if not host:
        raise SettingsError(f"{where}: {name!r} has an empty address")
    return Endpoint(name, host, port)


def _seconds(e: Mapping[str, str], name: str, default: float, *, zero: bool = False) -> float:
    """A number of seconds; more than 0, or 0 too where ``zero`` (a poll interval: poll back to back)."""
    text = e.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: a number of seconds") from None
    if value < 0 or (value == 0 and not zero):
        raise SettingsError(f"{name}={text!r}: must be {'0 or more' if zero else 'more than 0'} seconds")
    return value


def _samples(e: Mapping[str, str], name: str, default: int) -> int:
    """How many 20 s real-time samples to average: vCenter keeps one hour of them (180)."""
    text = e.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 180:
        raise SettingsError(f"{name}={text!r}: a number of 20 s samples from 1 to 180 (vCenter keeps one hour)")
    return int(text)
