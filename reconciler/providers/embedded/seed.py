"""Estate files: YAML describing what exists before the tool runs, loaded into the embedded estate.

    apiVersion: reconciler/v1
    kind: Estate
    metadata: {name: contoso-west}
    objects:
      - kind: hyperv.vm_memory          # a resource kind, or an inventory kind such as host.state
        scope: acmecorp                 # a tenant or site name, as in resource addresses
        name: VM01
        data: {...}                     # the object in the normalized shape the tool reads back
        status: {powerState: Running}   # read-only facts (power state, maintenance, pending BIOS)
        owned: false                    # created by the tool (true) or found (false, the default)

``reconciler estate show --format yaml`` prints the same shape, so a user can snapshot an estate,
edit it, and load it with ``reconciler estate init --from FILE``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.core.addresses import Address
from reconciler.core.diagnostics import Diagnostic, Location
from reconciler.providers.embedded.store import EstateStore, Row
from reconciler.spec import errors as spec_errors
from reconciler.spec.yamlsource import load_file

DEFAULT_ESTATE_DB = Path(".reconciler") / "estate.db"
ENV_ESTATE_DB = "RECONCILER_ESTATE"


class EstateObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^[a-z]+\.[a-z_]+$")
    scope: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    name: str = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)
    owned: bool = False


class EstateMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""


class EstateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    api_version: Literal["reconciler/v1"] = Field(alias="apiVersion")
    kind: Literal["Estate"]
    metadata: EstateMetadata
    objects: list[EstateObject] = Field(default_factory=list)


class EstateFileError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(f"{d.location}: {d.message}" for d in diagnostics))
        self.diagnostics = diagnostics


def default_estate_file() -> Path:
    """The estate shipped with the tool: the seed's contoso-west site and its two tenants."""
    return Path(str(resources.files("reconciler.providers.embedded") / "estates" / "contoso-west.yaml"))


def database_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get(ENV_ESTATE_DB, "").strip()
    return Path(env) if env else DEFAULT_ESTATE_DB


def read_estate_file(path: Path) -> list[Row]:
    """Parse and validate an estate file; problems raise EstateFileError with positioned diagnostics."""
    documents, problems = load_file(path)
    if problems:
        raise EstateFileError(problems)
    if len(documents) != 1:
        raise EstateFileError(
            [Diagnostic("estate.documents", "an estate file holds exactly one document", Location(str(path)))]
        )
    doc = documents[0]
    try:
        estate = EstateFile.model_validate(doc.data)
    except ValidationError as exc:
        raise EstateFileError(spec_errors.to_diagnostics(exc, model=EstateFile, doc=doc)) from exc
    rows = []
    seen: set[Address] = set()
    for i, obj in enumerate(estate.objects):
        address = Address(obj.kind, obj.scope, obj.name)
        key = Address(obj.kind, obj.scope, obj.name.casefold())
        if key in seen:
            raise EstateFileError(
                [
                    Diagnostic(
                        "estate.duplicate",
                        f"{address} is listed twice",
                        doc.locate(("objects", i)),
                        path=f"objects[{i}]",
                        hint="list each object once",
                    )
                ]
            )
        seen.add(key)
        rows.append(Row(address, obj.data, obj.status, obj.owned))
    return rows


def init_estate(db: Path, source: Path | None = None) -> int:
    """Reset the estate database from an estate file (default: the shipped one); returns the object count."""
    source = source or default_estate_file()
    rows = read_estate_file(source)
    store = EstateStore(db)
    try:
        store.reset(rows, source=str(source))
    finally:
        store.close()
    return len(rows)


def dump(store: EstateStore, name: str = "snapshot") -> dict[str, Any]:
    """The estate as an estate file document (what ``estate show --format yaml`` prints)."""
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Estate",
        "metadata": {"name": name},
        "objects": [
            {
                "kind": r.address.kind,
                "scope": r.address.scope,
                "name": r.address.name,
                "data": r.data,
                **({"status": r.status} if r.status else {}),
                **({"owned": True} if r.owned else {}),
            }
            for r in store.all()
        ],
    }
