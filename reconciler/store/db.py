"""The history store's database: one SQLAlchemy Core ``metadata`` and ``open_store(url) -> Store``.

The URL is ``$RECONCILER_DATABASE_URL`` when set, else ``sqlite:///.reconciler/state.db`` (relative to the
working directory, like the embedded estate). Tables live in the modules listed in ``TABLE_MODULES``, each
defining its ``Table`` objects on :data:`metadata`; ``open_store`` imports them and creates what is missing.
A later issue replaces ``create_all`` with Alembic migrations: ``env.py`` then targets
``load_tables()`` (the same metadata, every table registered) and ``open_store`` runs ``upgrade head``.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE``:
writers queue on the database lock up front instead of failing when a read transaction upgrades to a
write, which makes check-then-write sequences (locks, ``create_all``) atomic across processes.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

ENV_DATABASE_URL = "RECONCILER_DATABASE_URL"
DEFAULT_DATABASE = Path(".reconciler") / "state.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Constraint names fixed by convention, so that migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Every module that defines tables on ``metadata``; add run history, steps and drift reports here.
TABLE_MODULES: tuple[str, ...] = ("reconciler.store.locks",)


def load_tables() -> MetaData:
    """The metadata with every table registered (what create_all, and later Alembic, work from)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return metadata


def database_url(explicit: str | None = None) -> str:
    """The URL to open: the explicit one, else ``$RECONCILER_DATABASE_URL``, else the default SQLite file."""
    if explicit and explicit.strip():
        return explicit.strip()
    env = os.environ.get(ENV_DATABASE_URL, "").strip()
    return env or f"sqlite:///{DEFAULT_DATABASE.as_posix()}"


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module: it would not BEGIN before a SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Store:
    """An open history store. Use as a context manager, or call ``close()``."""

    engine: Engine
    url: str

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()


def open_store(url: str | None = None) -> Store:
    """Open the store at ``url`` (see :func:`database_url`) and create any missing table."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    path = _sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    tables = load_tables()
    try:
        tables.create_all(engine)
    except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
        # Another process created a table between our check and our CREATE (servers other than SQLite,
        # where BEGIN IMMEDIATE does not serialise DDL): checking again finds it.
        tables.create_all(engine)
    return Store(engine, resolved)
