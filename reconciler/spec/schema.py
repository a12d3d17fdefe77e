"""JSON Schemas for editors (yaml-language-server), generated from the models: one per kind and a
combined one that accepts any document. Committed under ``schemas/``; a test keeps them current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from reconciler.spec import kinds

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def kind_schema(kind: str) -> dict[str, Any]:
    model = kinds.KINDS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, "title": f"reconciler/v1 {kind}", **{k: v for k, v in schema.items() if k != "title"}}


def combined_schema() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(model, "validation") for model in kinds.KINDS.values()], by_alias=True, ref_template="#/$defs/{model}"
    )
    refs = [{"$ref": f"#/$defs/{model.__name__}"} for model in kinds.KINDS.values()]
    return {
        "$schema": DIALECT,
        "title": "reconciler/v1 spec document (any kind)",
        "oneOf": refs,
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
