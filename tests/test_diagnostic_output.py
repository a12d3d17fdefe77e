"""What ``validate`` shows a person: a secret is named by its key and line and never shown (neither in the
message nor in the quoted source line), a megabyte-long value is cut, a source line holding a
bidirectional override is escaped, and pydantic's "Value error," prefix never reaches a message.

The specs are the validation fixtures' base estate in ``tmp_path`` with one change each; secrets are
generated per run. Rendered through ``reports.diagnostics`` (the text and JSON forms of diagnostics)."""

from __future__ import annotations

import io
import json
import secrets
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.core.diagnostics import Diagnostic
from reconciler.reports import diagnostics as render
from reconciler.spec.loader import load_paths
from tests.helpers import out as _out
from tests.helpers import run as _run

BASE = Path(__file__).parent / "fixtures" / "validate" / "_base"


def _specs(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """The base estate in ``tmp_path/specs`` with ``old`` replaced by ``new`` in ``file``."""
    specs = tmp_path / "specs"
    shutil.copytree(BASE, specs)
    text = (specs / file).read_text(encoding="utf-8")
    assert old in text, old
    (specs / file).write_text(text.replace(old, new), encoding="utf-8")
    return specs


def _shown(diagnostics: list[Diagnostic]) -> str:
    buffer = io.StringIO()
    render.text(Console(file=buffer, width=200, soft_wrap=True), diagnostics, files=3, documents=4)
    return buffer.getvalue() + render.as_json(diagnostics, files=3, documents=4)


@pytest.fixture
def secret() -> str:
    return secrets.token_urlsafe(16)


def _secret_specs(tmp_path: Path, secret: str) -> Path:
    """A credential key, a connection string and a URL token, each on a line of its own."""
    server = "    server: VMM01.contoso.int\n"
    specs = _specs(tmp_path, "site.yaml", server, f"{server}    bmcPass: {secret}\n")
    tenant = (specs / "tenant.yaml").read_text(encoding="utf-8")
    tenant = tenant.replace(
        "storageAccount: {name: acmedrstore1,",
        f'storageAccount: {{name: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={secret}",',
    ).replace("  name: acme\n", f'  name: acme\n  annotations: {{hook: "https://x.example/run?token={secret}"}}\n')
    (specs / "tenant.yaml").write_text(tenant, encoding="utf-8")
    return specs


def test_a_secret_is_named_by_key_and_line_and_never_shown(tmp_path: Path, secret: str) -> None:
    specs = _secret_specs(tmp_path, secret)
    result = load_paths([specs])
    assert sorted((d.code, d.location.line) for d in result.diagnostics) == [
        ("secret.field", 8),
        ("secret.in-url", 5),
        ("secret.value", 25),
    ]
    shown = _shown(result.diagnostics)
    assert secret not in shown
    assert "bmcPass" in shown and "AccountKey=" in shown and "'token'" in shown
    assert "(not shown: it holds a credential)" in shown


def test_validate_never_prints_a_secret(tmp_path: Path, secret: str) -> None:
    result = _run("validate", _secret_specs(tmp_path, secret))
    assert result.exit_code == 1
    assert "bmcPass" in _out(result)
    assert secret not in result.output


def test_a_megabyte_name_is_cut_in_every_diagnostic(tmp_path: Path) -> None:
    specs = _specs(tmp_path, "tenant.yaml", "name: Acme Cloud", "name: " + "A" * 1_048_576)
    result = load_paths([specs])
    (found,) = result.diagnostics
    assert found.code == "name.vmm-object"
    assert "… (1048576 characters)" in found.message and len(found.message) < 300
    shown = _shown(result.diagnostics)
    assert len(shown) < 5_000
    assert "A" * 1_000 not in shown


def test_a_bidirectional_override_in_a_source_line_is_shown_escaped(tmp_path: Path) -> None:
    specs = _specs(tmp_path, "tenant.yaml", "name: Acme Cloud", "name: Acme \u202egnp.exe")
    result = load_paths([specs])
    assert [d.code for d in result.diagnostics] == ["text.bidi-control"]
    shown = _shown(result.diagnostics)
    assert "\u202e" not in shown
    assert "Acme \\u202egnp.exe" in shown


def test_no_message_starts_with_pydantics_value_error(tmp_path: Path) -> None:
    specs = _specs(tmp_path, "site.yaml", 'address: "https://10.0.0.21"', 'address: "https://[::1"')
    result = load_paths([specs])
    (found,) = result.diagnostics
    assert found.code == "schema.invalid-url"
    assert "Value error" not in found.message and "Invalid IPv6 URL" in found.message
    document = json.loads(render.as_json(result.diagnostics, files=3, documents=4))
    assert document["diagnostics"][0]["code"] == "schema.invalid-url"
