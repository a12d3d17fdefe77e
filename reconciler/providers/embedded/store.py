"""SQLite persistence for the embedded estate: one row per object, keyed like resource addresses.

Names are matched case-insensitively (``name_key``) as VMM and Azure match them, while the name as
written is kept for display. Each write bumps ``version`` (the object's etag)."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.core.addresses import Address

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    name_key TEXT NOT NULL,
    name     TEXT NOT NULL,
    data     TEXT NOT NULL,
    status   TEXT NOT NULL DEFAULT '{}',
    owned    INTEGER NOT NULL DEFAULT 0,
    version  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, scope, name_key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Row:
    address: Address
    data: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    owned: bool = False
    version: int = 1


class EstateStore:
    """Thread-safe access to one estate database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (a crash mid-step leaves no half object)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _row(r: Sequence[Any]) -> Row:
        return Row(Address(r[0], r[1], r[2]), json.loads(r[3]), json.loads(r[4]), bool(r[5]), int(r[6]))

    def list(self, kind: str, scope: str | None = None) -> builtins.list[Row]:
        sql = "SELECT kind, scope, name, data, status, owned, version FROM objects WHERE kind = ?"
        args: list[Any] = [kind]
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope)
        with self._lock:
            return [self._row(r) for r in self._db.execute(sql + " ORDER BY scope, name_key", args)]

    def list_many(self, kind: str, scopes: Sequence[str]) -> builtins.list[Row]:
        """Every object of ``kind`` in any of ``scopes``: one query, answered as one JSON document (like a
        list call's response body) and decoded in one call."""
        if not scopes:
            return []
        marks = ", ".join("?" for _ in scopes)
        sql = (
            "SELECT json_group_array(json_array(scope, name, json(data), json(status), owned, version)) "
            f"FROM (SELECT * FROM objects WHERE kind = ? AND scope IN ({marks}) ORDER BY scope, name_key)"
        )
        with self._lock:
            (document,) = self._db.execute(sql, [kind, *scopes]).fetchone()
        return [
            Row(Address(kind, scope, name), data, status, bool(owned), int(version))
            for scope, name, data, status, owned, version in json.loads(document)
        ]

    def all(self) -> builtins.list[Row]:
        sql = "SELECT kind, scope, name, data, status, owned, version FROM objects ORDER BY kind, scope, name_key"
        with self._lock:
            return [self._row(r) for r in self._db.execute(sql)]

    def get(self, address: Address) -> Row | None:
        with self._lock:
            r = self._db.execute(
                "SELECT kind, scope, name, data, status, owned, version FROM objects "
                "WHERE kind = ? AND scope = ? AND name_key = ?",
                (address.kind, address.scope, address.name.casefold()),
            ).fetchone()
        return self._row(r) if r else None

    def put(self, row: Row, *, version: int | None = None) -> Row:
        """Insert or replace; bumps the version (or sets the one given)."""
        a = row.address
        with self._lock:
            current = self.get(a)
            if version is None:
                version = (current.version + 1) if current else 1
            self._db.execute(
                "INSERT OR REPLACE INTO objects (kind, scope, name_key, name, data, status, owned, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    a.kind,
                    a.scope,
                    a.name.casefold(),
                    a.name,
                    json.dumps(row.data, sort_keys=True),
                    json.dumps(row.status, sort_keys=True),
                    int(row.owned),
                    version,
                ),
            )
        row.version = version
        return row

    def delete(self, address: Address) -> bool:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM objects WHERE kind = ? AND scope = ? AND name_key = ?",
                (address.kind, address.scope, address.name.casefold()),
            )
        return cur.rowcount > 0

    def reset(self, rows: Sequence[Row], *, source: str) -> None:
        """Replace the whole estate. Versions keep rising across resets, so a plan saved before the
        reset sees every object as changed rather than mistaking a reloaded object for the one it read."""
        with self.transaction():
            floor = int(self._db.execute("SELECT COALESCE(MAX(version), 0) FROM objects").fetchone()[0])
            self._db.execute("DELETE FROM objects")
            self._db.execute("DELETE FROM meta")
            for row in rows:
                self.put(row, version=floor + 1)
            self._db.execute("INSERT INTO meta (key, value) VALUES ('source', ?)", (source,))

    def meta(self, key: str) -> str | None:
        with self._lock:
            r = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(r[0]) if r else None
