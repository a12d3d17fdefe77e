"""Specs never hold secrets: keys that look like credentials, and values that carry one (a connection
string's ``AccountKey=``, a URL's ``?sig=`` or ``user:password@``), are rejected before schema validation.

Credentials belong in the environment, Kerberos or an Azure identity. Rejecting by key name catches
the common mistake (``password: ...`` next to an endpoint) whatever the kind or nesting. Both tests are
redaction's own (``core.redact``: :func:`looks_secret`, :func:`inline_secrets`), so what validate refuses
and what the logs mask cannot drift apart. A diagnostic names the key and the line, never the value, and
tells a renderer not to print the source line that holds it (``quote_source``).
"""

from __future__ import annotations

from typing import Any

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.redact import InlineKind, inline_secrets, looks_secret  # shared with redaction
from reconciler.core.text import quoted
from reconciler.spec.yamlsource import FieldPath, SourceDocument, format_path

__all__ = ["HINT", "WHERE", "has_secret", "looks_secret", "strip_secrets"]

WHERE = (
    "credentials come from the environment (RECONCILER_* variables), Kerberos, or an Azure identity, never from a spec"
)
HINT = f"remove it: {WHERE}"


def has_secret(value: Any) -> bool:
    """A fast first pass: most documents hold no secret, and then nothing needs copying. The pattern runs
    only on strings holding an ``=`` or an ``@`` (every form it finds has one): this visits every value of
    every document."""
    if isinstance(value, str):
        return ("=" in value or "@" in value) and bool(inline_secrets(value))
    if isinstance(value, dict):
        # A loop, not any() over a generator: half the time on 1,000 tenant documents (measured).
        for key, child in value.items():  # noqa: SIM110
            if looks_secret(key) or has_secret(child):
                return True
        return False
    if isinstance(value, list):
        return any(has_secret(child) for child in value)
    return False


def strip_secrets(doc: SourceDocument) -> tuple[Any, list[Diagnostic]]:
    """A copy of the document's data without secret-looking keys, and a diagnostic for each one
    (the data itself, uncopied, when there is none)."""
    if doc.secret_free or not has_secret(doc.data):
        return doc.data, []
    found: list[Diagnostic] = []

    def walk(value: Any, path: FieldPath) -> Any:
        if isinstance(value, dict):
            kept: dict[str, Any] = {}
            for key, child in value.items():
                child_path = (*path, key)
                if looks_secret(key):
                    found.append(
                        Diagnostic(
                            code="secret.field",
                            message=f"key {quoted(key)} names a credential; specs must not hold credentials "
                            "(its value is not shown)",
                            location=doc.locate_key(child_path),
                            path=format_path(child_path),
                            hint=HINT,
                            quote_source=False,
                        )
                    )
                    continue
                kept[key] = walk(child, child_path)
            return kept
        if isinstance(value, list):
            return [walk(child, (*path, i)) for i, child in enumerate(value)]
        if isinstance(value, str):
            inline = inline_secrets(value)
            if inline:
                found.append(_value_diagnostic(doc, path, inline[0].kind, inline[0].name))
                return ""
        return value

    return walk(doc.data, ()), found


_WHAT = {
    InlineKind.CONNECTION_STRING: "this value holds a connection string credential ({name}=)",
    InlineKind.URL_QUERY: "this URL carries a credential in its query parameter {name}",
    InlineKind.URL_PASSWORD: "this URL carries a password (user:password@)",
}


def _value_diagnostic(doc: SourceDocument, path: FieldPath, kind: InlineKind, name: str) -> Diagnostic:
    """A value carrying a credential, named by what it is and where, never shown."""
    return Diagnostic(
        code="secret.value" if kind is InlineKind.CONNECTION_STRING else "secret.in-url",
        message=_WHAT[kind].format(name=quoted(name) if kind is InlineKind.URL_QUERY else name)
        + "; specs must not hold credentials (the value is not shown)",
        location=doc.locate(path),
        path=format_path(path),
        hint=HINT,
        quote_source=False,
    )
