"""Spec documents a program made (``reconciler import``), checked exactly as files are: the seed that starts an
import (:func:`load_seed`), and a set of generated documents validated as if loaded from disk
(:func:`load_documents`: the same envelope, schema, secret and cross-document checks as ``load_paths``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reconciler.core.diagnostics import Diagnostic, Location, sorted_diagnostics
from reconciler.spec import errors, secrets
from reconciler.spec.loader import LoadResult, SpecSet, parse_document
from reconciler.spec.models.seed import ImportSeedDocument
from reconciler.spec.yamlsource import load_file, load_text


def load_seed(path: Path) -> tuple[ImportSeedDocument | None, list[Diagnostic]]:
    """The import seed at ``path`` (one ``ImportSeed`` document), or None with diagnostics saying what is wrong."""
    documents, problems = load_file(path)
    if problems:
        return None, problems
    if len(documents) != 1:
        return None, [
            Diagnostic(
                "seed.documents",
                "an import seed holds exactly one ImportSeed document",
                Location(str(path)),
                hint="see docs/import.md for the seed's shape",
            )
        ]
    source = documents[0]
    data, problems = secrets.strip_secrets(source)
    try:
        seed = ImportSeedDocument.model_validate(data)
    except ValidationError as exc:
        return None, problems + errors.to_diagnostics(exc, model=ImportSeedDocument, doc=source)
    return (None if problems else seed), problems


def load_documents(files: Mapping[str, Sequence[dict[str, Any]]]) -> LoadResult:
    """Validate generated documents (by the file each would be written to) as ``load_paths`` validates files."""
    from reconciler.spec import rules  # rules import the loader

    specs = SpecSet()
    diagnostics: list[Diagnostic] = []
    for name, documents in files.items():
        specs.files.append(name)
        sources, problems = load_text(yaml.safe_dump_all(list(documents), sort_keys=False), name)
        diagnostics.extend(problems)
        for source in sources:
            doc, found = parse_document(source)
            diagnostics.extend(found)
            if doc is None:
                specs.note_broken(source)
            elif specs.add(doc) is not None:
                diagnostics.append(doc.diagnostic("spec.duplicate-name", ("metadata", "name"), f"{doc.name} twice"))
    diagnostics.extend(rules.check(specs))
    return LoadResult(specs=specs, diagnostics=sorted_diagnostics(diagnostics))
