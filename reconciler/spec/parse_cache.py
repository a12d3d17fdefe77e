"""Parsed spec files, kept by content: a file whose bytes the tool parsed before is not parsed again.

Parsing YAML is most of loading a large tree (1,000 tenant files: about 1.1 s of CPU in the parse workers), and
from one command to the next almost every file is unchanged. The loader asks here first: an entry is keyed by
a hash of the tool's version, the file's name as diagnostics show it and its bytes, so any edit, rename or upgrade
misses. Only files that parsed cleanly are kept (a file with a parse problem is parsed again and reported again),
and an entry holds what the parse gave the loader: each document's data, where it starts, and what the parse
already knows (whether it holds an unprintable character or a secret). The parser's marks are not kept: they are
rebuilt from the file's text when a diagnostic needs a position, as for a document parsed in a worker process.

Entries are ``marshal`` files (plain data only; the fastest to read back) in ``RECONCILER_CACHE_DIR`` (default
``$XDG_CACHE_HOME/reconciler``, else ``~/.cache/reconciler``; ``off`` turns the cache off), under ``specs/``.
Entries unused for ``KEEP_DAYS`` days are deleted when a run adds new ones. A cache that cannot be read or written
(a read-only home, a full disk) only costs the parse.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import reconciler
from reconciler.core.diagnostics import Location
from reconciler.spec import secrets
from reconciler.spec.yamlsource import MAX_FILE_BYTES, SourceDocument

CACHE_ENV = "RECONCILER_CACHE_DIR"
FORMAT = 1  # the entry layout: a change makes every older entry miss
KEEP_DAYS = 30

Entry = tuple[int, int, int, Any, bool, bool]  # index, start line, start column, data, unprintable, secret_free


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where parsed files are kept (None: nowhere, ``RECONCILER_CACHE_DIR=off``)."""
    env = os.environ if environ is None else environ
    raw = env.get(CACHE_ENV, "").strip()
    if raw.casefold() in ("off", "0", "none", "-"):
        return None
    if raw:
        return Path(raw).expanduser()
    base = env.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "reconciler"


@dataclass
class Lookup:
    """One file as the cache found it: its documents when an entry matched, else the key to keep its parse under."""

    key: str
    documents: list[SourceDocument] | None


@dataclass
class ParseCache:
    root: Path
    added: int = 0
    _pruned: bool = field(default=False, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ParseCache | None:
        where = cache_dir(environ)
        return cls(where / "specs") if where is not None else None

    def lookup(self, path: Path, display: str) -> Lookup | None:
        """The file's cached parse (``documents``), or where to keep it (``documents`` None); None when the file
        cannot be read as a spec at all (too large, unreadable, not UTF-8): the parser reports why."""
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        if len(raw) > MAX_FILE_BYTES:
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
        digest = hashlib.sha256(f"{reconciler.__version__}\0{FORMAT}\0{display}\0".encode())
        digest.update(raw)
        key = digest.hexdigest()
        entry = self._path(key)
        try:
            entries = marshal.loads(entry.read_bytes())
            os.utime(entry)  # in use: kept by the pruning
        except (OSError, EOFError, ValueError, TypeError):
            return Lookup(key, None)
        documents = _documents(entries, display, text)
        return Lookup(key, documents)

    def keep(self, key: str, documents: Sequence[SourceDocument]) -> None:
        """Keep a clean parse of a file (its documents, unchanged) under ``key``."""
        entries: list[Entry] = []
        for doc in documents:
            secret_free = doc.secret_free or not secrets.has_secret(doc.data)
            unprintable = doc.unprintable is not False
            entries.append((doc.index, doc.start.line, doc.start.column, doc.data, unprintable, secret_free))
        try:
            blob = marshal.dumps(entries)
        except ValueError:  # a value marshal cannot hold: not kept
            return
        entry = self._path(key)
        try:
            entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = entry.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(blob)
            os.replace(partial, entry)
        except OSError:
            return
        self.added += 1
        if not self._pruned:
            self._pruned = True
            self._prune()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key[2:]}.marshal"

    def _prune(self) -> None:
        """Delete the entries nobody used for ``KEEP_DAYS`` days (each edit of a file adds one)."""
        horizon = time.time() - KEEP_DAYS * 86_400
        try:
            shards = list(os.scandir(self.root))
        except OSError:
            return
        for shard in shards:
            try:
                for item in os.scandir(shard.path):
                    if item.stat().st_mtime < horizon:
                        os.unlink(item.path)
            except OSError:
                continue


def _documents(entries: Any, display: str, text: str) -> list[SourceDocument] | None:
    """The documents of a cache entry, detached (their marks rebuilt from ``text`` on demand); None when the entry
    is not of the expected shape."""
    if not isinstance(entries, list):
        return None
    out: list[SourceDocument] = []
    for item in entries:
        if not (isinstance(item, tuple) and len(item) == 6):
            return None
        index, line, column, data, unprintable, secret_free = item
        doc = SourceDocument(file=display, index=index, start=Location(display, line, column), data=data)
        doc.unprintable = None if unprintable else False
        doc.secret_free = bool(secret_free)
        doc.detach(text)
        out.append(doc)
    return out
