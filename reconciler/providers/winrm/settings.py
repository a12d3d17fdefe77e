"""Where the WinRM provider connects and how it signs in, from the environment (never from the specs).

``RECONCILER_WINRM=on`` turns the provider on. Every setting below has a default for all endpoints (a VMM
server or a Hyper-V host, named as the specs name it) and may be overridden for one endpoint by appending
``__`` and the endpoint's name in upper case with every character other than A-Z and 0-9 written ``_``:
``RECONCILER_WINRM_AUTH__VMM01_CONTOSO_INT=kerberos``. The short host name works too
(``RECONCILER_WINRM_AUTH__VMM01``); the full name wins over it, and both win over the default.

=====================================  ===========================================================================
``RECONCILER_WINRM_TRANSPORT``         ``https`` (default) or ``http`` (only when asked: a lab without certificates)
``RECONCILER_WINRM_PORT``              5986 for https, 5985 for http
``RECONCILER_WINRM_AUTH``              ``ntlm`` (default), ``kerberos``, ``credssp`` or ``basic`` (https only, unless
                                       ``RECONCILER_WINRM_ALLOW_BASIC_OVER_HTTP=yes``)
``RECONCILER_WINRM_CA_BUNDLE``         a PEM file of the CAs that sign the listeners' certificates
``RECONCILER_WINRM_CERT_VALIDATION``   ``on`` (default); ``off`` trusts any certificate (logged as a warning)
``RECONCILER_WINRM_USER``              the account (``CONTOSO\\svc-reconciler``; with kerberos, an optional principal)
``RECONCILER_WINRM_PASSWORD``          its password (not with kerberos)
``RECONCILER_WINRM_CREDENTIAL_FILE``   instead of the two above: a file of ``username=`` and ``password=`` lines,
                                       refused when its group or others have any permission (``chmod 600``)
``RECONCILER_WINRM_KERBEROS_DELEGATION``  ``on`` forwards the Kerberos ticket (the second hop without CredSSP)
``RECONCILER_WINRM_OPERATION_TIMEOUT_S``  WS-Management OperationTimeout of one request (default 20)
``RECONCILER_WINRM_READ_TIMEOUT_S``    HTTP read timeout, more than the operation timeout (default 30)
``RECONCILER_WINRM_COMMAND_TIMEOUT_S`` how long one script may run before it is stopped (default 3600)
``RECONCILER_WINRM_CONCURRENCY``       scripts in flight per endpoint, one shell each (1-64, default 4)
``RECONCILER_WINRM_POLL_INTERVAL_S``   seconds between polls of a VMM job or a restarting host (default 10)
``RECONCILER_WINRM_RESTART_TIMEOUT_S`` how long a host may take to come back from a reset (default 1800)
``RECONCILER_JOB_TIMEOUT_S``           how long one step waits for a VMM job (default 1800; shared with Azure)
=====================================  ===========================================================================

The last three are the same for every endpoint (no ``__ENDPOINT`` form).

Credentials are taken together from the most specific level (endpoint name, short name, default) that sets
any of USER, PASSWORD or CREDENTIAL_FILE. Kerberos takes no password: get a ticket with ``kinit`` or point
``KRB5_CLIENT_KTNAME`` at a keytab. A password never appears in a ``repr``, a ``str`` or an error: it is held
in a :class:`Secret`.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from reconciler.providers.winrm.credentials import Secret, SettingsError, read_credential_file

PREFIX = "RECONCILER_WINRM"
TRUE = frozenset({"1", "on", "true", "yes"})
FALSE = frozenset({"", "0", "off", "false", "no"})
CODEPAGE_UTF8 = 65001  # shells open with it: the default (437) turns non-ASCII output into '?'

_CREDENTIAL_NAMES = ("USER", "PASSWORD", "CREDENTIAL_FILE")
_SETTING_NAMES = frozenset(
    {
        "TRANSPORT",
        "PORT",
        "AUTH",
        "ALLOW_BASIC_OVER_HTTP",
        "CA_BUNDLE",
        "CERT_VALIDATION",
        "KERBEROS_DELEGATION",
        "OPERATION_TIMEOUT_S",
        "READ_TIMEOUT_S",
        "COMMAND_TIMEOUT_S",
        "CONCURRENCY",
        *_CREDENTIAL_NAMES,
    }
)
# Settings of the provider as a whole, not of one endpoint.
_PROVIDER_NAMES = frozenset({"POLL_INTERVAL_S", "RESTART_TIMEOUT_S"})
JOB_TIMEOUT = "RECONCILER_JOB_TIMEOUT_S"
_OVERRIDE = re.compile(rf"^{PREFIX}_(?P<name>[A-Z0-9_]+?)__(?P<key>[A-Z0-9_]+)$")


_E = TypeVar("_E", bound=enum.StrEnum)


class Scheme(enum.StrEnum):
    https = "https"
    http = "http"


class Auth(enum.StrEnum):
    ntlm = "ntlm"
    kerberos = "kerberos"
    credssp = "credssp"
    basic = "basic"


DEFAULT_PORTS = {Scheme.https: 5986, Scheme.http: 5985}


def endpoint_key(name: str) -> str:
    """The suffix of an endpoint's overrides: ``VMM01.contoso.int`` -> ``VMM01_CONTOSO_INT``."""
    return re.sub(r"[^A-Z0-9]", "_", name.strip().upper())


def _short_key(name: str) -> str | None:
    """The short host name's key (``VMM01``), or None for an IP address or a name without a domain."""
    host = name.strip().strip("[]")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    return endpoint_key(host.split(".", 1)[0]) if "." in host else None


@dataclass(frozen=True)
class EndpointSettings:
    """How to reach one endpoint: the resolved settings, validated together."""

    host: str
    scheme: Scheme
    port: int
    auth: Auth
    username: str | None
    password: Secret | None
    cert_validation: bool
    ca_bundle: str | None
    kerberos_delegation: bool
    operation_timeout_s: int
    read_timeout_s: int
    command_timeout_s: float
    concurrency: int
    credential_source: str  # which variables or file the credentials came from: what a 401 says to check

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 literal
        return f"{self.scheme}://{host}:{self.port}/wsman"

    def secrets(self) -> frozenset[str]:
        """Values a message must never show (the password)."""
        return frozenset({self.password.reveal()}) if self.password is not None else frozenset()

    def warnings(self) -> tuple[str, ...]:
        """What the operator asked for that weakens security, said once when the endpoint is first used."""
        out = []
        if self.scheme is Scheme.https and not self.cert_validation:
            out.append(
                f"{self.host}: certificate validation is OFF ({PREFIX}_CERT_VALIDATION=off): anyone on the "
                "path can impersonate this WinRM endpoint and read the credentials it is sent"
            )
        if self.scheme is Scheme.http:
            out.append(
                f"{self.host}: WinRM over plain http ({PREFIX}_TRANSPORT=http); only the messages of ntlm, "
                "kerberos and credssp are encrypted"
            )
        if self.scheme is Scheme.http and self.auth is Auth.basic:
            out.append(f"{self.host}: basic authentication over http sends the password in clear text")
        return tuple(out)


@dataclass(frozen=True)
class _Value:
    text: str
    var: str  # the variable it came from


@dataclass(frozen=True)
class WinRMSettings:
    """The environment's WinRM settings; :meth:`endpoint` resolves them for one endpoint."""

    # RECONCILER_WINRM_* and KRB5_* variables; passwords wrapped in Secret
    _values: Mapping[str, str | Secret] = field(repr=False, compare=False)
    _cache: dict[tuple[str, Scheme | None, int | None], EndpointSettings] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    poll_interval_s: float = 10.0  # between polls of a VMM job, and of a host coming back from a reset
    restart_timeout_s: float = 1800.0  # how long a host may take to answer VMM again after a reset
    job_timeout_s: float = 1800.0  # how long one step waits for one VMM job

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WinRMSettings | None:
        """The settings, or None when the provider is off (the default: the embedded estate serves VMM and
        Hyper-V). Every default and every per-endpoint override present is validated here."""
        e = os.environ if env is None else env
        switch = e.get(PREFIX, "").strip().casefold()
        if switch in FALSE:
            return None
        if switch not in TRUE:
            raise SettingsError(f"{PREFIX}={e[PREFIX]!r}: use on or off")
        values: dict[str, str | Secret] = {}
        for name, value in e.items():
            if name.startswith(f"{PREFIX}_") or name.startswith("KRB5"):
                values[name] = Secret(value) if _is_password(name) else value
        for name in values:
            if not name.startswith(f"{PREFIX}_"):
                continue
            match = _OVERRIDE.match(name)
            setting = match.group("name") if match else name.removeprefix(f"{PREFIX}_")
            if match and setting in _PROVIDER_NAMES:
                raise SettingsError(f"{name}: {PREFIX}_{setting} applies to every endpoint; drop the __ suffix")
            if setting not in _SETTING_NAMES | _PROVIDER_NAMES:
                known = ", ".join(sorted(f"{PREFIX}_{n}" for n in _SETTING_NAMES | _PROVIDER_NAMES))
                raise SettingsError(f"{name}: unknown setting; the settings are {known} (each may end in __ENDPOINT)")
        poll, restart, job = _provider_timing(e)
        settings = cls(values, poll_interval_s=poll, restart_timeout_s=restart, job_timeout_s=job)
        settings._resolve("", None, None)  # the defaults alone
        for key in sorted({m.group("key") for m in map(_OVERRIDE.match, values) if m}):
            settings._resolve(key, None, None, probe=True)
        return settings

    def endpoint(self, host: str, *, scheme: Scheme | None = None, port: int | None = None) -> EndpointSettings:
        """The settings for ``host``. ``scheme`` and ``port`` are what the specs say about the endpoint, if
        anything: they beat the environment's defaults, an override for this endpoint beats them."""
        key = (host, scheme, port)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._resolve(host, scheme, port)
            with self._lock:
                self._cache[key] = cached
        return cached

    def secrets(self) -> frozenset[str]:
        """Every password these settings hold, for redaction."""
        return frozenset(v.reveal() for v in self._values.values() if isinstance(v, Secret) and v.reveal())

    def __repr__(self) -> str:
        names = sorted(n for n in self._values if n.startswith(PREFIX))
        return f"WinRMSettings(variables={names})"  # names only: values may be passwords

    __str__ = __repr__

    # ------------------------------------------------------------------------------------------------ resolution

    def _levels(self, host: str) -> list[str]:
        """Variable suffixes from the most specific: the endpoint's key, its short name's key, none."""
        if not host:
            return [""]
        keys = [f"__{endpoint_key(host)}"]
        short = _short_key(host)
        if short and f"__{short}" not in keys:
            keys.append(f"__{short}")
        return [*keys, ""]

    def _get(self, host: str, name: str) -> _Value | None:
        for suffix in self._levels(host):
            var = f"{PREFIX}_{name}{suffix}"
            value = self._values.get(var)
            if isinstance(value, str) and value.strip():
                return _Value(value.strip(), var)
        return None

    def _resolve(self, host: str, scheme: Scheme | None, port: int | None, *, probe: bool = False) -> EndpointSettings:
        """Resolve and validate; ``probe``: ``host`` is an override's key, checked at start-up."""
        transport = self._get(host, "TRANSPORT")
        resolved_scheme = _scheme(transport, scheme, host_override=self._is_override(transport))
        port_value = self._get(host, "PORT")
        if port_value is not None and (self._is_override(port_value) or port is None):
            resolved_port = _int(port_value, low=1, high=65535, what="a TCP port 1-65535")
        else:
            resolved_port = port if port is not None else DEFAULT_PORTS[resolved_scheme]
        auth = _choice(self._get(host, "AUTH"), Auth, Auth.ntlm)
        allow_basic = _flag(self._get(host, "ALLOW_BASIC_OVER_HTTP"), default=False)
        if auth is Auth.basic and resolved_scheme is Scheme.http and not allow_basic:
            raise SettingsError(
                f"{_where(host, probe=probe)}: basic authentication over http sends the password in clear text: use "
                f"{PREFIX}_TRANSPORT=https, another {PREFIX}_AUTH, or set {PREFIX}_ALLOW_BASIC_OVER_HTTP=yes"
            )
        validation = _flag(self._get(host, "CERT_VALIDATION"), default=True)
        ca = self._get(host, "CA_BUNDLE")
        if ca is not None and not Path(ca.text).is_file():
            raise SettingsError(f"{ca.var}={ca.text!r}: no such file (a PEM bundle of CA certificates)")
        operation = self._get(host, "OPERATION_TIMEOUT_S")
        read = self._get(host, "READ_TIMEOUT_S")
        operation_s = _int(operation, low=1, high=3600, what="whole seconds, 1-3600") if operation else 20
        read_s = _int(read, low=2, high=7200, what="whole seconds, 2-7200") if read else max(30, operation_s + 10)
        if read_s <= operation_s:
            var = read.var if read else f"{PREFIX}_READ_TIMEOUT_S"
            raise SettingsError(
                f"{var}={read_s}: must exceed the operation timeout ({operation_s} s): the server holds a "
                "request up to the operation timeout before it answers"
            )
        command = self._get(host, "COMMAND_TIMEOUT_S")
        command_s = _float(command, low=1.0, what="seconds, at least 1") if command else 3600.0
        concurrency = self._get(host, "CONCURRENCY")
        limit = _int(concurrency, low=1, high=64, what="a number of shells, 1-64") if concurrency else 4
        username, password, source = self._credentials(host, auth, probe=probe)
        if auth is Auth.kerberos:
            if not _kerberos_available():
                chosen = self._get(host, "AUTH")
                raise SettingsError(
                    f"{chosen.var if chosen else PREFIX + '_AUTH'}=kerberos needs the kerberos extra: pip install "
                    "'reconciler[kerberos]' (it builds pykerberos: gcc and the Kerberos headers, libkrb5-dev)"
                )
            _check_keytab(self._values)
        return EndpointSettings(
            host=host,
            scheme=resolved_scheme,
            port=resolved_port,
            auth=auth,
            username=username,
            password=password,
            cert_validation=validation,
            ca_bundle=ca.text if ca else None,
            kerberos_delegation=_flag(self._get(host, "KERBEROS_DELEGATION"), default=False),
            operation_timeout_s=operation_s,
            read_timeout_s=read_s,
            command_timeout_s=command_s,
            concurrency=limit,
            credential_source=source,
        )

    def _is_override(self, value: _Value | None) -> bool:
        return value is not None and "__" in value.var

    def _credentials(self, host: str, auth: Auth, *, probe: bool) -> tuple[str | None, Secret | None, str]:
        """(user, password, where they came from), from the most specific level that sets any of them."""
        where = _where(host, probe=probe)
        for suffix in self._levels(host):
            found = {n: self._values.get(f"{PREFIX}_{n}{suffix}") for n in _CREDENTIAL_NAMES}
            if any(_present(v) for v in found.values()):
                return _credentials_at(suffix, found, auth, where)
        return _credentials_at("", {}, auth, where)


def _present(value: str | Secret | None) -> bool:
    if isinstance(value, Secret):
        return bool(value.reveal())
    return bool(value and value.strip())


def _credentials_at(
    suffix: str, found: Mapping[str, str | Secret | None], auth: Auth, where: str
) -> tuple[str | None, Secret | None, str]:
    user_var, password_var, file_var = (f"{PREFIX}_{n}{suffix}" for n in _CREDENTIAL_NAMES)
    user = found.get("USER")
    password = found.get("PASSWORD")
    file = found.get("CREDENTIAL_FILE")
    username = user.strip() if isinstance(user, str) and user.strip() else None
    secret = password if isinstance(password, Secret) and password.reveal() else None
    if isinstance(file, str) and file.strip():
        if username is not None or secret is not None:
            raise SettingsError(
                f"{file_var} and {user_var if username else password_var} are both set: use either the "
                "credential file or the variables"
            )
        if auth is Auth.kerberos:
            raise SettingsError(
                f"{file_var}: kerberos takes no password; unset it and get a ticket with kinit, or point "
                "KRB5_CLIENT_KTNAME at a keytab"
            )
        username, secret = read_credential_file(Path(file.strip()), var=file_var)
        return username, secret, f"the credential file {file.strip()} ({file_var})"
    if auth is Auth.kerberos:
        if secret is not None:
            raise SettingsError(
                f"{password_var}: kerberos takes no password; unset it and get a ticket with kinit, or point "
                "KRB5_CLIENT_KTNAME at a keytab"
            )
        who = f" for principal {username} ({user_var})" if username else ""
        return username, None, f"the Kerberos ticket{who} (kinit, or the keytab in KRB5_CLIENT_KTNAME)"
    if username is None or secret is None:
        missing = [v for v, ok in ((user_var, username), (password_var, secret)) if not ok]
        raise SettingsError(
            f"{where}: {PREFIX}_AUTH={auth} needs {' and '.join(missing)}, or {file_var} (a file of "
            "username= and password= lines, mode 600)"
        )
    return username, secret, f"{user_var} and {password_var}"


def _provider_timing(env: Mapping[str, str]) -> tuple[float, float, float]:
    """The provider-wide waits: (poll interval, host restart timeout, job timeout)."""
    out = []
    for var, low, default in (
        (f"{PREFIX}_POLL_INTERVAL_S", 0.0, 10.0),
        (f"{PREFIX}_RESTART_TIMEOUT_S", 1.0, 1800.0),
        (JOB_TIMEOUT, 1.0, 1800.0),
    ):
        text = env.get(var, "").strip()
        out.append(_float(_Value(text, var), low=low, what=f"seconds, at least {low:g}") if text else default)
    return out[0], out[1], out[2]


def _is_password(name: str) -> bool:
    return name.startswith(f"{PREFIX}_PASSWORD")


def _where(host: str, *, probe: bool = False) -> str:
    """How a message names what it is about: an endpoint, or the variables ending in ``__KEY``."""
    if not host:
        return "the WinRM settings"
    return f"the WinRM settings ending in __{host}" if probe else f"WinRM endpoint {host}"


def _kerberos_available() -> bool:
    """Whether pywinrm's Kerberos support (pykerberos, the ``kerberos`` extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("kerberos") is not None


def _check_keytab(values: Mapping[str, str | Secret]) -> None:
    keytab = values.get("KRB5_CLIENT_KTNAME")
    if isinstance(keytab, str) and keytab.strip():
        path = re.sub(r"^(FILE|WRFILE):", "", keytab.strip())
        if not Path(path).is_file():
            raise SettingsError(f"KRB5_CLIENT_KTNAME={keytab!r}: no such keytab file (create it with ktutil)")


def _scheme(value: _Value | None, spec: Scheme | None, *, host_override: bool) -> Scheme:
    if value is not None and (host_override or spec is None):
        return _choice(value, Scheme, Scheme.https)
    return spec if spec is not None else Scheme.https


def _choice(value: _Value | None, enum_type: type[_E], default: _E) -> _E:
    if value is None:
        return default
    try:
        return enum_type(value.text.casefold())
    except ValueError:
        options = ", ".join(member.value for member in enum_type)
        raise SettingsError(f"{value.var}={value.text!r}: use one of {options}") from None


def _flag(value: _Value | None, *, default: bool) -> bool:
    if value is None:
        return default
    text = value.text.casefold()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise SettingsError(f"{value.var}={value.text!r}: use on or off")


def _int(value: _Value, *, low: int, high: int, what: str) -> int:
    try:
        number = int(value.text)
    except ValueError:
        raise SettingsError(f"{value.var}={value.text!r}: {what}") from None
    if not low <= number <= high:
        raise SettingsError(f"{value.var}={value.text!r}: {what}")
    return number


def _float(value: _Value, *, low: float, what: str) -> float:
    try:
        number = float(value.text)
    except ValueError:
        raise SettingsError(f"{value.var}={value.text!r}: {what}") from None
    if not number >= low:
        raise SettingsError(f"{value.var}={value.text!r}: {what}")
    return number
