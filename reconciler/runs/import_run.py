"""``reconciler import``: the live estate -> spec files, from a seed (``spec.models.seed``).

Discovery needs the specs' context (which vault a site has, which subscription, cloud and recovery resource group a
tenant has), and that context is what discovery finds. So import runs in rounds: the seed's facts make provisional
documents, the backends open on them and list every scope (``engine.inverse.live``), the findings make better
documents, until a round finds nothing new (at most :data:`ROUNDS`). The last round's documents are the import.

Files are written only when none exists yet (``force`` overwrites), never holding a secret (each document is
checked with the loader's secret scan before anything is written), then loaded back as ``validate`` would: what
the estate holds that the rules refuse is reported, with the files written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.diagnostics import Diagnostic
from reconciler.core.errors import ReconcilerError
from reconciler.engine.inverse import documents
from reconciler.engine.inverse.documents import Imported, Selection
from reconciler.engine.inverse.live import Live, discover
from reconciler.providers.embedded.seed import EstateFileError
from reconciler.providers.registry import open_backends
from reconciler.runs.clock import SYSTEM, Clock
from reconciler.runs.errors import BadEnvironment, EstateInvalid, LiveReadFailed, RunError
from reconciler.spec import emit, generated, secrets
from reconciler.spec.loader import SpecSet
from reconciler.spec.models.seed import ImportSeedDocument

ROUNDS = 4


class SeedInvalid(RunError):
    """The seed does not load: its diagnostics say where."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(diagnostics[0].message if diagnostics else "the import seed does not load")
        self.diagnostics = list(diagnostics)


class WouldOverwrite(RunError):
    """Files import would write exist already (``--force`` overwrites)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        shown = ", ".join(str(p) for p in paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(f"{shown} exist already: import into an empty folder, or pass --force to overwrite")
        self.paths = list(paths)


class SecretInImport(RunError):
    """A generated document holds a key that looks like a credential: nothing is written."""


@dataclass
class ImportResult:
    written: list[Path] = field(default_factory=list)
    documents: int = 0
    warnings: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # the written specs, loaded back
    rounds: int = 0


def load_seed(path: Path) -> ImportSeedDocument:
    seed, problems = generated.load_seed(path)
    if seed is None:
        raise SeedInvalid(problems)
    return seed


def _specs(imported: Imported) -> SpecSet:
    """The provisional documents as a spec set, for the backends' context (rule findings do not matter here)."""
    files = {name: [d.document() for d in docs] for name, docs in imported.files().items()}
    return generated.load_documents(files).specs


def _discover(seed: ImportSeedDocument, selection: Selection, *, estate: Path | None) -> tuple[Live, int]:
    """Rounds of discovery until one finds nothing new; the last round's findings and how many rounds ran."""
    scopes = documents.scopes(seed.spec, selection)
    live = Live()
    for round_no in range(1, ROUNDS + 1):
        context = _specs(documents.build(seed.spec, live, selection, provisional=True))
        try:
            backends = open_backends(estate, specs=context)
        except EstateFileError as exc:
            raise EstateInvalid(exc.diagnostics) from exc
        except ValueError as exc:
            raise BadEnvironment(str(exc)) from exc
        try:
            found = discover(backends.router, scopes)
        except ReconcilerError as exc:
            raise LiveReadFailed(exc) from exc
        finally:
            backends.close()
        if found.addresses() == live.addresses() and round_no > 1:
            return found, round_no
        live = found
    return live, ROUNDS


def import_estate(
    seed: ImportSeedDocument,
    out: Path,
    *,
    selection: Selection,
    estate: Path | None = None,
    force: bool = False,
    clock: Clock = SYSTEM,
) -> ImportResult:
    """Discover, build and write the specs of ``selection`` under ``out``; see the module docstring."""
    live, rounds = _discover(seed, selection, estate=estate)
    imported = documents.build(seed.spec, live, selection)
    files = imported.files()
    targets = [out / name for name in files]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise WouldOverwrite(existing)
    for docs in files.values():
        for doc in docs:
            if secrets.has_secret(doc.document()):
                raise SecretInImport(f"{doc.kind} {doc.name}: a key looks like a credential; nothing written")
    when = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"Imported by reconciler import from the live estate ({when}).\n"
        "'default': the value is the field's default (it could be left out); other notes: not in the estate."
    )
    result = ImportResult(documents=len(imported.documents), warnings=list(imported.warnings), rounds=rounds)
    for name, docs in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = emit.render([(d.document(), d.notes) for d in docs], header=header)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
        result.written.append(path)
    if result.written:
        from reconciler.spec.loader import load_paths

        result.diagnostics = load_paths([out]).diagnostics
    return result


__all__ = ["ImportResult", "SecretInImport", "SeedInvalid", "WouldOverwrite", "import_estate", "load_seed"]
