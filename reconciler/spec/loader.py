"""Load a tree of spec files into a validated ``SpecSet``, collecting every problem as a diagnostic.

Flow: discover ``*.yaml``/``*.yml`` files -> safe YAML with positions (``yamlsource``) -> secrets
stripped (``secrets``) -> envelope checks (apiVersion, kind) -> the kind's pydantic model ->
cross-document rules (``rules``). Documents with errors are left out of the set, so rules only see
well-formed documents and never report a consequence of an earlier error.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.core.diagnostics import Diagnostic, Location, Severity, sorted_diagnostics
from reconciler.core.memory import no_cyclic_gc
from reconciler.core.text import quoted
from reconciler.spec import characters, errors, kinds, secrets
from reconciler.spec.models.memory import MemoryProfileDocument
from reconciler.spec.models.power import PowerProfileDocument
from reconciler.spec.models.site import SiteDocument
from reconciler.spec.models.tenant import TenantDocument
from reconciler.spec.parse_cache import ParseCache
from reconciler.spec.yamlsource import FieldPath, SourceDocument, format_path, load_file

M = TypeVar("M", bound=BaseModel)
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecDocument(Generic[M]):
    """A validated document: its model and where it came from (for diagnostics by path)."""

    kind: str
    name: str
    model: M
    source: SourceDocument

    def diagnostic(
        self,
        code: str,
        path: FieldPath,
        message: str,
        *,
        hint: str = "",
        severity: Severity = Severity.ERROR,
        related: tuple[Location, ...] = (),
        key: bool = False,
    ) -> Diagnostic:
        """A diagnostic about the value (or with ``key=True`` the key) at ``path`` in this document."""
        location = self.source.locate_key(path) if key else self.source.locate(path)
        return Diagnostic(
            code=code,
            message=message,
            location=location,
            path=format_path(path),
            hint=hint,
            severity=severity,
            related=related,
        )

    def where(self, path: FieldPath = ()) -> Location:
        return self.source.locate(path)


@dataclass
class SpecSet:
    """Every valid document, by kind. Names are unique per kind once loading succeeded."""

    sites: dict[str, SpecDocument[SiteDocument]] = field(default_factory=dict)
    tenants: dict[str, SpecDocument[TenantDocument]] = field(default_factory=dict)
    memory_profiles: dict[str, SpecDocument[MemoryProfileDocument]] = field(default_factory=dict)
    power_profiles: dict[str, SpecDocument[PowerProfileDocument]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Names of documents that exist but failed validation, by kind: references to them are not
    # reported again (the document's own errors say what is wrong).
    broken: dict[str, set[str]] = field(default_factory=dict)

    def known_names(self, kind: str) -> list[str]:
        """Names of every document of ``kind`` that was written, valid or not."""
        valid: dict[str, dict[str, Any]] = {
            "Site": self.sites,
            "Tenant": self.tenants,
            "MemoryProfile": self.memory_profiles,
            "PowerProfile": self.power_profiles,
        }
        return [*valid[kind], *sorted(self.broken.get(kind, ()))]

    def note_broken(self, source: SourceDocument) -> None:
        """Remember the kind and name of a document that failed validation, if they can be read."""
        data = source.data
        if not isinstance(data, dict):
            return
        kind, metadata = data.get("kind"), data.get("metadata")
        if not isinstance(kind, str) or not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            return
        guessed = kind if kind in kinds.KINDS else errors.did_you_mean(kind, kinds.KINDS)
        if guessed is not None:
            self.broken.setdefault(guessed, set()).add(metadata["name"])

    def _table(self, kind: str) -> dict[str, SpecDocument[Any]]:
        tables: dict[str, dict[str, Any]] = {
            "Site": self.sites,
            "Tenant": self.tenants,
            "MemoryProfile": self.memory_profiles,
            "PowerProfile": self.power_profiles,
        }
        return tables[kind]

    def add(self, doc: SpecDocument[Any]) -> SpecDocument[Any] | None:
        """Add a document; returns the earlier one of the same kind and name if there is one."""
        table = self._table(doc.kind)
        earlier = table.get(doc.name)
        if earlier is None:
            table[doc.name] = doc
        return earlier

    def __len__(self) -> int:
        return len(self.sites) + len(self.tenants) + len(self.memory_profiles) + len(self.power_profiles)


@dataclass(frozen=True)
class LoadResult:
    specs: SpecSet
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Every spec file under ``paths`` (files given directly are taken whatever their suffix)."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_file() or path.is_symlink():  # a broken or looping link: reading it says which
            found.append(path)
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(Path(root) / n for n in sorted(names) if n.endswith(SPEC_SUFFIXES))
        else:
            problems.append(
                Diagnostic(
                    code="file.not-found",
                    message="no such file or directory",
                    location=Location(str(path)),
                    hint="pass a spec file or a folder of specs (default: specs/)",
                )
            )
    return found, problems


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def parse_document(source: SourceDocument) -> tuple[SpecDocument[Any] | None, list[Diagnostic]]:
    """Secrets and unsafe characters, envelope checks and model validation of one YAML document.

    One finding per problem: a value reported as a secret or for an unsafe character is not reported again
    by the envelope or the schema (a connection string pasted as a storage account name is a secret, not also
    a badly formed name)."""
    if not isinstance(source.data, dict):
        return None, [
            Diagnostic(
                code="spec.not-a-mapping",
                message="a spec document must be a mapping with apiVersion, kind, metadata and spec",
                location=source.start,
                hint="start the document with 'apiVersion: reconciler/v1' and 'kind: ...'",
            )
        ]
    data, found = secrets.strip_secrets(source)
    found += characters.check(source, data)
    reported = {d.path for d in found}
    model, later = _envelope(source, data)
    validated = None
    if model is not None:
        try:
            validated = model.model_validate(data)
        except ValidationError as exc:
            later.extend(errors.to_diagnostics(exc, model=model, doc=source))
    problems = found + [d for d in later if d.path not in reported]
    if validated is None or problems:  # a stripped secret leaves a document not usable as written
        return None, problems
    name = validated.metadata.name  # type: ignore[attr-defined]
    return SpecDocument(kind=str(data["kind"]), name=name, model=validated, source=source), problems


def _envelope(source: SourceDocument, data: dict[str, Any]) -> tuple[type[BaseModel] | None, list[Diagnostic]]:
    """The model for the document's ``apiVersion`` and ``kind``, or None with the reasons."""
    problems: list[Diagnostic] = []
    api_version = data.get("apiVersion")
    if api_version is None:
        problems.append(
            Diagnostic(
                code="spec.missing-api-version",
                message="apiVersion is missing",
                location=source.start,
                path="apiVersion",
                hint=f"add 'apiVersion: {kinds.API_VERSIONS[-1]}'",
            )
        )
    elif api_version not in kinds.API_VERSIONS:
        problems.append(
            Diagnostic(
                code="spec.unknown-api-version",
                message=f"unknown apiVersion {quoted(api_version)}",
                location=source.locate(("apiVersion",)),
                path="apiVersion",
                hint=f"use {' or '.join(kinds.API_VERSIONS)}",
            )
        )
    kind = data.get("kind")
    if kind is None:
        problems.append(
            Diagnostic(
                code="spec.missing-kind",
                message="kind is missing",
                location=source.start,
                path="kind",
                hint=f"add 'kind:' with one of {', '.join(kinds.KINDS)}",
            )
        )
    elif not isinstance(kind, str) or kind not in kinds.KINDS:
        guess = errors.did_you_mean(str(kind), kinds.KINDS)
        problems.append(
            Diagnostic(
                code="spec.unknown-kind",
                message=f"unknown kind {quoted(kind)}",
                location=source.locate(("kind",)),
                path="kind",
                hint=f"did you mean {guess!r}?" if guess else f"use one of {', '.join(kinds.KINDS)}",
            )
        )
    if problems or not isinstance(kind, str):
        return None, problems
    return kinds.KINDS[kind], problems


Parsed = tuple[list[SourceDocument], list[Diagnostic]]

# Parsing YAML is most of loading, and files parse independently: a large tree is parsed by worker
# processes (forked: they start in milliseconds with everything imported), in chunks, while this
# process validates what has arrived. Documents come back without their marks (``SourceDocument.detach``).
PARALLEL_MIN_FILES = 128
_CHUNK_FILES = 16


def load_workers(env: Mapping[str, str] | None = None) -> int:
    """Worker processes for parsing: ``RECONCILER_LOAD_WORKERS`` (0 or 1: parse in this process), else
    one per CPU; always 0 where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    raw = (os.environ if env is None else env).get("RECONCILER_LOAD_WORKERS", "").strip()
    if raw:
        try:
            wanted = int(raw)
        except ValueError:
            raise ValueError(f"RECONCILER_LOAD_WORKERS={raw!r} is not a whole number") from None
        return wanted if wanted > 1 else 0
    cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


def _parse_chunk(chunk: list[tuple[Path, str]]) -> list[Parsed]:
    """In a worker process: parse files and scan them for secrets, detached for the trip back."""
    out = [load_file(path, display=display, detach=True) for path, display in chunk]
    for documents, _ in out:
        for doc in documents:
            doc.secret_free = not secrets.has_secret(doc.data)
    return out


def _parsed(files: Sequence[Path], workers: int, cache: ParseCache | None = None) -> Iterator[tuple[str, Parsed]]:
    """Every file parsed, in order: from ``cache`` where it holds the file's bytes, the rest in ``workers``
    processes for a large tree, here otherwise (and kept in ``cache`` when clean)."""
    named = [(path, _display(path)) for path in files]
    if cache is None:
        yield from _parse_all(named, workers)
        return
    found = [cache.lookup(path, display) for path, display in named]
    missed = [item for item, hit in zip(named, found, strict=True) if hit is None or hit.documents is None]
    parses = _parse_all(missed, workers)
    for (_path, display), hit in zip(named, found, strict=True):
        if hit is not None and hit.documents is not None:
            yield display, (hit.documents, [])
            continue
        _, parsed = next(parses)
        documents, problems = parsed
        if hit is not None and not problems:
            cache.keep(hit.key, documents)
        yield display, parsed


def _may_fork() -> bool:
    """Whether parse workers may be forked: only while this process runs one thread."""
    return threading.active_count() == 1


def _parse_all(named: Sequence[tuple[Path, str]], workers: int) -> Iterator[tuple[str, Parsed]]:
    """``named`` files parsed, in order: in ``workers`` processes for a large tree, here otherwise."""
    # Forking copies one thread only: with others running (a long-lived watch), a lock one of them holds
    # would stay held in the child forever. Parse here then.
    if workers < 2 or len(named) < PARALLEL_MIN_FILES or not _may_fork():
        for path, display in named:
            yield display, load_file(path, display=display)
        return
    chunks = [list(named[i : i + _CHUNK_FILES]) for i in range(0, len(named), _CHUNK_FILES)]
    done = 0  # chunks handed on: a worker that dies (killed, out of memory) leaves the rest to this process
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for chunk, results in zip(chunks, pool.map(_parse_chunk, chunks), strict=True):
                for (_, display), parsed in zip(chunk, results, strict=True):
                    yield display, parsed
                done += 1
    except (BrokenProcessPool, OSError):  # OSError: no process could be forked (a process limit)
        for chunk in chunks[done:]:
            for path, display in chunk:
                yield display, load_file(path, display=display)


def load_paths(paths: Iterable[Path | str], *, cache: ParseCache | None = None) -> LoadResult:
    """Load and validate every spec under ``paths``: all problems at once, in reading order. ``cache`` keeps
    parsed files from one command to the next (the CLI's: ``ParseCache.from_environ``)."""
    with no_cyclic_gc():
        return _load_paths(paths, cache)


def _load_paths(paths: Iterable[Path | str], cache: ParseCache | None) -> LoadResult:
    # Imported here: rules import this module for SpecSet/SpecDocument.
    from reconciler.spec import rules

    files, diagnostics = discover([Path(p) for p in paths])
    specs = SpecSet()
    if not files and not diagnostics:
        diagnostics.append(
            Diagnostic(
                code="file.no-specs",
                message="no spec files (*.yaml, *.yml) found",
                location=Location(", ".join(str(p) for p in paths) or "."),
                hint="point validate at a folder of specs, e.g. reconciler validate specs/",
            )
        )
    try:
        workers = load_workers()
    except ValueError as exc:
        workers = 0
        diagnostics.append(
            Diagnostic(
                code="env.bad-setting",
                message=str(exc),
                location=Location("RECONCILER_LOAD_WORKERS"),
                hint="set it to the number of processes that parse spec files (0: parse in this process), or unset it",
            )
        )
    for display, (documents, parse_problems) in _parsed(files, workers, cache):
        specs.files.append(display)
        diagnostics.extend(parse_problems)
        if not documents and not parse_problems:
            diagnostics.append(
                Diagnostic(
                    code="file.empty",
                    message="the file holds no spec document (it is empty, or only comments and ---)",
                    location=Location(display),
                    hint="write a spec document in it, or remove the file",
                    severity=Severity.WARNING,
                )
            )
        for source in documents:
            doc, problems = parse_document(source)
            diagnostics.extend(problems)
            if doc is None:
                specs.note_broken(source)
                continue
            earlier = specs.add(doc)
            if earlier is not None:
                diagnostics.append(
                    doc.diagnostic(
                        "spec.duplicate-name",
                        ("metadata", "name"),
                        f"a {doc.kind} named {doc.name!r} is already defined at {earlier.where(('metadata', 'name'))}",
                        hint="give each document of a kind its own metadata.name",
                        related=(earlier.where(("metadata", "name")),),
                    )
                )
    diagnostics.extend(rules.check(specs))
    return LoadResult(specs=specs, diagnostics=sorted_diagnostics(diagnostics))
