"""The committed JSON Schemas work in a real validator (the ``jsonschema`` package, what check-jsonschema
and editors run): the example specs are valid, and a typo deep inside an optional block is reported as the
unknown property it is, by the kind's schema and by the combined one, not as "not valid under any of the
given schemas"."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
TENANT = yaml.safe_load((ROOT / "specs" / "tenants" / "acmecorp.yaml").read_text(encoding="utf-8"))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _messages(name: str, document: Any) -> list[str]:
    return [error.message for error in _validator(name).iter_errors(document)]


@pytest.mark.parametrize("name", ["tenant.schema.json", "reconciler.schema.json"])
def test_the_example_tenant_is_valid(name: str) -> None:
    assert _messages(name, TENANT) == []


@pytest.mark.parametrize("name", ["tenant.schema.json", "reconciler.schema.json"])
def test_a_typo_inside_recovery_names_the_unknown_property(name: str) -> None:
    document = copy.deepcopy(TENANT)
    document["spec"]["recovery"]["polcy"] = document["spec"]["recovery"].pop("policy")
    messages = _messages(name, document)
    assert messages, "the typo was not reported"
    assert all("polcy" in m or "'policy' is a required property" in m for m in messages), messages
    assert any("polcy" in m for m in messages)
    assert not any("not valid under any of the given schemas" in m for m in messages)


def test_every_example_spec_is_valid_under_the_combined_schema() -> None:
    validator = _validator("reconciler.schema.json")
    for path in sorted((ROOT / "specs").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert [e.message for e in validator.iter_errors(document)] == [], path
