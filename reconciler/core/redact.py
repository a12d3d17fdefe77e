"""Secrets never leave the process: a ``Redactor`` masks them in anything about to be logged, printed or
written (log lines, audit events, plan files).

Three rules, applied recursively to dicts, lists, tuples and strings (the input is never mutated):

- the value of a mapping key that looks like a credential (:func:`looks_secret`, the same test that makes
  ``validate`` refuse such keys in specs) is replaced by ``MASK``; so are ``old``/``new`` of a field change
  (``{"path": ..., "old": ..., "new": ...}``) whose path ends in such a key;
- every occurrence of a *known secret* inside a string is replaced by ``MASK``. Known secrets are the
  values of environment variables whose name looks like a credential (``AZURE_CLIENT_SECRET``,
  ``RECONCILER_VMM_PASSWORD``, ``..._TOKEN``, ``..._KEY``), at least ``MIN_SECRET_LENGTH`` characters long;
- inline credentials (:func:`inline_secrets`, the same test ``validate`` applies to spec values) keep their
  name and lose their value: ``AccountKey=...;``, ``SharedAccessKey=``, ``Password=``, a URL query parameter
  that names a credential (a SAS ``sig=``, ``token=``, ``key=``, ``code=``), and the password of a
  ``scheme://user:password@host`` URL.

Pure: the environment is passed in (``Redactor.from_environ(os.environ)``), nothing is read here.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 4

# A key names a credential when, once normalised (:func:`normalise_key`), its words joined hold one of these
# (``pass_word`` and ``passWord`` are "password"), it ends in "key" (accountKey, AZURE_STORAGE_KEY), or one
# of its words is in _SECRET_WORDS ("bmcPass", not "bypass").
_SECRET_JOINED: Final = (
    r"passw(or)?d|passphrase|passcode|secret|token|credential|connectionstring|apikey|privatekey|key$"
)
_SECRET_WORDS: Final = frozenset({"pass", "pwd", "pw"})
# URL query parameters that carry a credential without saying so: a SAS signature, an Azure Functions key.
_SECRET_PARAMETERS: Final = frozenset({"sig", "code", "signature", "x-amz-signature", "x-goog-signature"})

# Environment variables that look like credentials by name but hold none: PWD is the working directory.
_NOT_SECRET_NAMES: Final = frozenset({"PWD", "OLDPWD"})
# Values too common to be secrets: masking every "true" in the output would only destroy information.
_NOT_SECRET_VALUES: Final = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off"})


# Compiled on first use, like the patterns below: the CLI imports this module at start-up.
@functools.cache
def _key_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], dict[int, str], dict[int, str]]:
    # Cyrillic and Greek letters that look like Latin ones, mapped to what they imitate (NFKD has already
    # turned fullwidth and styled letters into plain ones); then the usual substitutions, inside words.
    letters = str.maketrans(
        {
            **dict(zip("аВвсеЕһіІјЈКкМмНнОоРрСсТтуХхѕЅԁԛԝ", "aBBceEhiIjJKkMmHhOoPpCcTtyXxsSdqw", strict=True)),
            **dict(zip("ΑαΒβΕεΗΙιΚκΜΝνΟοΡρΤτΥυΧχ", "AaBBEeHIiKkMNvOoPpTtYuXx", strict=True)),
        }
    )
    leet = str.maketrans({"@": "a", "$": "s", "0": "o", "3": "e", "5": "s", "7": "t"})
    return (
        re.compile(_SECRET_JOINED),
        re.compile(r"(?<=[a-z0-9])(?=[A-Z])"),
        re.compile(r"[^A-Za-z0-9@$]+"),
        letters,
        leet,
    )


def normalise_key(key: str) -> tuple[str, ...]:
    """The words of a key as the secret check reads them: compatibility forms folded (fullwidth letters),
    accents dropped, Cyrillic and Greek look-alikes mapped to the Latin letters they imitate, split at
    camelCase and at every separator, ``@ $ 0 3 5 7`` read as ``a s o e s t`` inside a word, lowercase,
    other digits left out: ``bmcPass`` -> ``("bmc", "pass")``, ``p@ssw0rd`` -> ``("password",)``,
    ``AZURE_STORAGE_KEY_2`` -> ``("azure", "storage", "key")``."""
    _, camel, separators, letters, leet = _key_patterns()
    folded = "".join(c for c in unicodedata.normalize("NFKD", key) if not unicodedata.combining(c))
    words = separators.split(camel.sub(" ", folded.translate(letters)))
    plain = ("".join(c for c in word.translate(leet) if not c.isdigit()).casefold() for word in words)
    return tuple(w for w in plain if w)


@functools.lru_cache(maxsize=4096)
def looks_secret(key: str) -> bool:
    """Whether a key (a spec field, a mapping key, an environment variable name, a URL query parameter)
    names a credential (see :func:`normalise_key`). The one definition: ``validate`` refuses such keys in
    specs and the redactor masks their values. Keys repeat across thousands of objects: cached per key."""
    words = normalise_key(key)
    return any(w in _SECRET_WORDS for w in words) or _key_patterns()[0].search("".join(words)) is not None


@functools.cache
def _inline_pattern() -> re.Pattern[str]:
    return re.compile(
        r"(?i)(?P<name>\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd)=)(?P<secret>[^;&\s\"']+)"
        r"|(?P<param>[?&](?P<pname>[^=&#?\s\"']+)=)(?P<pvalue>[^&#\s\"']+)"
        r"|(?P<userinfo>://[^/\s:@\"']+:)(?P<password>[^/\s@\"']+)(?=@)"
    )


class InlineKind(enum.StrEnum):
    """Where a credential sits inside a text."""

    CONNECTION_STRING = "connection-string"  # AccountKey=...; in a connection string
    URL_QUERY = "url-query"  # ?token=... or &sig=... in a URL
    URL_PASSWORD = "url-password"  # scheme://user:password@host


@dataclass(frozen=True, slots=True)
class InlineSecret:
    """A credential found inside a text: its kind, the name it goes by (never its value), and the span of
    the value in the text."""

    kind: InlineKind
    name: str
    start: int
    end: int


def _secret_parameter(name: str) -> bool:
    return name.lower() in _SECRET_PARAMETERS or looks_secret(name)


def inline_secrets(text: str) -> list[InlineSecret]:
    """Every credential written inside ``text``: ``AccountKey=``, ``SharedAccessKey=``, ``Password=`` and
    the like in a connection string, a URL query parameter that names a credential (``sig``, ``token``,
    ``key``, ``code``, anything :func:`looks_secret` accepts), the password of ``scheme://user:password@``.
    The one definition: ``validate`` refuses such values in specs and the redactor masks them."""
    if "=" not in text and "@" not in text:  # every form holds one: most strings are answered here
        return []
    found: list[InlineSecret] = []
    for m in _inline_pattern().finditer(text):
        if m.group("name") is not None:
            found.append(InlineSecret(InlineKind.CONNECTION_STRING, m.group("name")[:-1], *m.span("secret")))
        elif m.group("param") is not None:
            if _secret_parameter(m.group("pname")):
                found.append(InlineSecret(InlineKind.URL_QUERY, m.group("pname"), *m.span("pvalue")))
        else:
            found.append(InlineSecret(InlineKind.URL_PASSWORD, "user:password@", *m.span("password")))
    return found


def secret_env_values(environ: Mapping[str, str]) -> frozenset[str]:
    """The values of the environment variables that hold credentials (see the module docstring)."""
    return frozenset(
        value
        for name, value in environ.items()
        if name.upper() not in _NOT_SECRET_NAMES
        and looks_secret(name)
        and len(value) >= MIN_SECRET_LENGTH
        and value.strip().lower() not in _NOT_SECRET_VALUES
    )


@functools.lru_cache(maxsize=32)
def _known_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first, so a secret containing another is masked whole.
    return re.compile("|".join(re.escape(s) for s in sorted(secrets, key=lambda s: (-len(s), s))))


class Redactor:
    """Masks secrets in a value; see the module docstring for the rules."""

    __slots__ = ("_clean_keys", "_fallback", "_known", "_secrets")

    def __init__(self, secrets: Iterable[str] = (), *, fallback: Callable[[Any], Any] | None = None) -> None:
        """``fallback`` turns any other object (an address, a path, a set) into plain data, which is then
        redacted too: what a renderer would otherwise ``repr`` is covered. Without it such objects are
        returned as they are."""
        self._secrets = frozenset(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
        self._known = _known_pattern(self._secrets)
        self._fallback = fallback
        self._clean_keys: set[str] = set()  # keys found plain: a plan repeats a few hundred keys a million times

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, fallback: Callable[[Any], Any] | None = None) -> Redactor:
        """A redactor that knows the secrets held by ``environ`` (pass ``os.environ``)."""
        return cls(secret_env_values(environ), fallback=fallback)

    @property
    def secrets(self) -> frozenset[str]:
        return self._secrets

    def text(self, value: str) -> str:
        """The string with every known secret and inline credential masked."""
        if self._known is not None:
            value = self._known.sub(MASK, value)
        for found in reversed(inline_secrets(value)):  # from the end: earlier spans stay where they are
            value = value[: found.start] + MASK + value[found.end :]
        return value

    def clean_text(self, value: str) -> bool:
        """Whether :meth:`text` would find nothing to mask (it may still answer False for a string it would
        leave as it is: then the caller just takes the slower path)."""
        if self._known is not None and self._known.search(value) is not None:
            return False
        return not inline_secrets(value)

    def clean(self, value: Any) -> bool:
        """Whether redacting ``value`` would change nothing: plain data (dicts with string keys, lists,
        strings, numbers, booleans, None) with no secret-looking key and no secret in any string. Most
        of a plan is such data; checking it costs a fraction of copying it."""
        kind = type(value)
        if kind is str:
            return self.clean_text(value)
        if kind is dict:
            path = value.get("path")
            if type(path) is str and looks_secret(_field_name(path)):
                return False
            plain_keys, known = self._clean_keys, self._known
            for key, child in value.items():
                if key not in plain_keys:
                    if type(key) is not str or looks_secret(key) or not self.clean_text(key):
                        return False
                    plain_keys.add(key)
                t = type(child)
                if t is str:
                    # What clean_text looks for needs a known secret, an "=" or an "@": most values have none.
                    if (known is not None or "=" in child or "@" in child) and not self.clean_text(child):
                        return False
                elif child is None or t is bool:
                    continue
                elif t is int or t is float:
                    if self._secrets and str(child) in self._secrets:
                        return False
                elif not self.clean(child):
                    return False
            return True
        if kind is list or kind is tuple:
            return all(self.clean(v) for v in value)
        if value is None or kind is bool:
            return True
        if kind is int or kind is float:
            return not (self._secrets and str(value) in self._secrets)
        return False  # anything else goes through the full rules (a fallback may turn it into data)

    def __call__(self, value: Any) -> Any:
        """``value`` with every secret masked: the value itself when nothing is to be masked (see
        :meth:`clean`), else a redacted copy (dicts, lists and tuples are rebuilt; other objects
        returned as they are)."""
        if self.clean(value):
            return value
        return self._copy(value)

    def _copy(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            return self._mapping(value)
        if kind is list:
            return [self._copy(v) for v in value]
        if value is None or kind is bool:
            return value
        if kind is int or kind is float:
            return MASK if self._secrets and str(value) in self._secrets else value
        # Subclasses and other containers: the slower checks.
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return self._mapping(value)
        if isinstance(value, list | tuple):
            if kind in (list, tuple):
                return type(value)(self._copy(v) for v in value)
            return [self._copy(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return MASK if str(value) in self._secrets else value
        if self._fallback is not None:
            plain = self._fallback(value)
            return self._copy(plain) if type(plain) in (str, dict, list) else self.text(str(plain))
        return value

    def _mapping(self, value: Mapping[Any, Any]) -> dict[Any, Any]:
        path = value.get("path")
        field_secret = type(path) is str and looks_secret(_field_name(path))
        out: dict[Any, Any] = {}
        for key, child in value.items():
            name = key
            if isinstance(key, str):
                if (
                    child is not None
                    and child != ""
                    and (looks_secret(key) or (field_secret and key in ("old", "new")))
                ):
                    out[self.text(key)] = MASK
                    continue
                name = self.text(key)
            elif self._fallback is not None and key is not None and type(key) not in (int, float, bool):
                name = self.text(str(key))  # JSON keys are strings
            out[name] = self._copy(child)
        return out


def _field_name(path: str) -> str:
    """The last key of a field path: ``password`` in ``credentials.password`` or ``users[0].password``."""
    return re.split(r"[.\[\]/]+", path.strip(".[]/"))[-1]
