"""JSON Schemas for editors (yaml-language-server), generated from the models: one per kind and a
combined one that accepts any document. Committed under ``schemas/``; a test keeps them current.

An optional field is written as its type alone, not ``anyOf [type, null]``: in a spec, absent means not
set. With the null branch, a validator can only say that ``recovery`` "is not valid under any of the given
schemas"; without it, a typo inside ``recovery`` is reported as the unknown property it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from reconciler.spec import kinds

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _AbsentMeansUnset(GenerateJsonSchema):
    """Optional fields as their type alone: no null branch, no ``default: null``."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema


def kind_schema(kind: str) -> dict[str, Any]:
    model = kinds.KINDS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_AbsentMeansUnset)
    return {"$schema": DIALECT, "title": f"reconciler/v1 {kind}", **{k: v for k, v in schema.items() if k != "title"}}


def combined_schema() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(model, "validation") for model in kinds.KINDS.values()],
        by_alias=True,
        ref_template="#/$defs/{model}",
        schema_generator=_AbsentMeansUnset,
    )
    # The document's kind picks its schema (if/then), rather than oneOf over every kind: a mistake is then
    # reported against its own kind's schema, not as "not valid under any of the given schemas".
    chosen = [
        {"if": {"properties": {"kind": {"const": kind}}}, "then": {"$ref": f"#/$defs/{model.__name__}"}}
        for kind, model in kinds.KINDS.items()
    ]
    return {
        "$schema": DIALECT,
        "title": "reconciler/v1 spec document (any kind)",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(kinds.KINDS)}},
        "allOf": chosen,
        "$defs": defs.get("$defs", {}),
    }


def render_all() -> dict[str, str]:
    """File name -> JSON text for every schema file."""
    files = {kinds.SCHEMA_FILES[kind]: kind_schema(kind) for kind in kinds.KINDS}
    files[kinds.COMBINED_SCHEMA_FILE] = combined_schema()
    return {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in files.items()}


def stale_files(directory: Path) -> list[str]:
    """Schema files in ``directory`` that are missing or differ from the models."""
    stale = []
    for name, text in render_all().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
