"""The shipped PowerShell: every script parses with a real PowerShell grammar (tree-sitter-powershell), as a file
and as the body the provider sends (its ``# include:`` lines expanded), is ASCII (no codepage can mangle it),
builds nothing from data (no Invoke-Expression, no script block made from a string), and the command line that
starts it stays far below cmd.exe's limit."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from reconciler.providers.winrm import contract, scripts

SCRIPT_DIR = Path(str(resources.files(scripts)))
SHIPPED = sorted(SCRIPT_DIR.glob("*.ps1"))


def _errors(source: bytes) -> list[str]:
    """Where the grammar found errors: ``line:column`` of each ERROR or missing node."""
    root = Parser(Language(tree_sitter_powershell.language())).parse(source).root_node
    found: list[str] = []

    def walk(node: Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            found.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {node.type}")
        for child in node.children:
            walk(child)

    walk(root)
    assert root.has_error == bool(found)
    return found


FAMILIES = {
    "vmm_networks",
    "vmm_ports",
    "vmm_switches",
    "vmm_vm_networks",
    "vmm_clouds",
    "vmm_vms",
    "vmm_hosts",
    "vmm_jobs",
    "hyperv_memory",
    "host_power",
}


def test_the_package_ships_the_bootstrap_the_prelude_and_a_script_per_kind_family() -> None:
    assert {p.name for p in SHIPPED} >= {"_bootstrap.ps1", "_prelude.ps1", "_vmm.ps1", "server_info.ps1"}
    assert set(scripts.shipped()) == FAMILIES | {"server_info"}
    assert "_prelude" not in scripts.shipped() and "_vmm" not in scripts.shipped()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_script_parses_and_is_ascii(path: Path) -> None:
    source = path.read_bytes()
    assert _errors(source) == []
    source.decode("ascii")  # raises on anything else


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_body_as_sent_parses_with_its_includes_expanded(name: str) -> None:
    body = scripts.load(name).text
    assert not re.search(r"^# include: ", body, re.MULTILINE)
    assert _errors(body.encode()) == []
    assert body.lstrip().startswith("#") and "param($Data)" in body


def test_a_vmm_script_gets_the_shared_helpers_after_its_param_line() -> None:
    body = scripts.load("vmm_networks").text
    helpers = scripts.load("_vmm").text.strip()
    assert body.index("param($Data)") < body.index(helpers) < body.index("function Read-RcNetworks")
    assert "Import-Module virtualmachinemanager" not in scripts.load("host_power").text  # runs on a host, not VMM


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_no_script_makes_code_out_of_text(path: Path) -> None:
    """Values are data: nothing turns a string into code (the bootstrap and prelude run the constant body)."""
    text = path.read_text().casefold()
    assert "invoke-expression" not in text and " iex " not in text
    if path.name not in {"_bootstrap.ps1", "_prelude.ps1"}:
        assert "[scriptblock]::create" not in text and "addscript" not in text


def test_the_grammar_check_finds_a_broken_script() -> None:
    broken = scripts.load("server_info").text.replace("[pscustomobject]@{", "[pscustomobject]@(")
    assert _errors(broken.encode()) != []


def test_the_command_line_is_constant_and_short() -> None:
    first = contract.invocation(scripts.load("server_info"), {"name": "x" * 50_000}, nonce="a" * 32)
    second = contract.invocation(scripts.load("server_info"), None, nonce="b" * 32)
    assert first.arguments == second.arguments
    assert len(" ".join([first.command, *first.arguments])) < contract.CMD_LINE_LIMIT // 2


def test_unknown_script_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no shipped script nothing\.ps1; the scripts are host_power, hyperv_memory"):
        scripts.load("nothing")
    with pytest.raises(ValueError, match="is not a script name"):
        scripts.load("../etc/passwd")
