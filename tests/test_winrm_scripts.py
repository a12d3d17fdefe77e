"""The shipped PowerShell: every script parses with a real PowerShell grammar (tree-sitter-powershell), is
ASCII (no codepage can mangle it), and the command line that starts it stays far below cmd.exe's limit."""

from __future__ import annotations

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


def test_the_package_ships_the_bootstrap_the_prelude_and_server_info() -> None:
    assert {p.name for p in SHIPPED} >= {"_bootstrap.ps1", "_prelude.ps1", "server_info.ps1"}
    assert "server_info" in scripts.shipped() and "_prelude" not in scripts.shipped()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_script_parses_and_is_ascii(path: Path) -> None:
    source = path.read_bytes()
    assert _errors(source) == []
    source.decode("ascii")  # raises on anything else


def test_the_grammar_check_finds_a_broken_script() -> None:
    broken = scripts.load("server_info").text.replace("[pscustomobject]@{", "[pscustomobject]@(")
    assert _errors(broken.encode()) != []


def test_the_command_line_is_constant_and_short() -> None:
    first = contract.invocation(scripts.load("server_info"), {"name": "x" * 50_000}, nonce="a" * 32)
    second = contract.invocation(scripts.load("server_info"), None, nonce="b" * 32)
    assert first.arguments == second.arguments
    assert len(" ".join([first.command, *first.arguments])) < contract.CMD_LINE_LIMIT // 2


def test_unknown_script_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no shipped script nothing\.ps1; the scripts are server_info"):
        scripts.load("nothing")
    with pytest.raises(ValueError, match="is not a script name"):
        scripts.load("../etc/passwd")
