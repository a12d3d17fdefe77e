"""The history store's database: one SQLAlchemy Core ``metadata`` and ``open_store(url) -> Store``.

The URL is ``$RECONCILER_DATABASE_URL`` when set, else ``sqlite:///.reconciler/state.db`` (relative to the
working directory, like the embedded estate). Tables live in the modules listed in ``TABLE_MODULES``, each
defining its ``Table`` objects on :data:`metadata`. The schema itself comes from the Alembic migrations in
``store/migrations/versions/`` (shipped in the package, no ``alembic.ini``): ``open_store`` runs
``upgrade head`` on the connection it passes in through ``config.attributes["connection"]``, in one
transaction, so a fresh or older store is brought up to date before anything reads it. A test compares
``load_tables()`` with the migrated schema: a table or column added to one must be added to the other.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with ``BEGIN IMMEDIATE``:
writers queue on the database lock up front instead of failing when a read transaction upgrades to a
write, which makes check-then-write sequences (locks, migrations) atomic across processes. A writer that
has waited ``SQLITE_QUIET_WAIT_MS`` for another process's write lock says so (a warning on the
``reconciler.store`` logger, naming the file), then waits out the rest of ``SQLITE_BUSY_TIMEOUT_MS``.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, MetaData, create_engine, event, exc, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config

StoreError = exc.SQLAlchemyError
"""What the store raises when its database cannot be used (unreachable, locked, not writable, a schema it
cannot migrate). Callers outside the store catch this name: only the store imports SQLAlchemy."""


def migration_errors() -> tuple[type[Exception], ...]:
    """:data:`StoreError` and what else opening a store raises when it cannot be used: Alembic's error, when a
    migration cannot run. A function, so that Alembic is imported only when a caller asks (an error happened)."""
    from alembic.util.exc import CommandError

    return (StoreError, CommandError)


ENV_DATABASE_URL = "RECONCILER_DATABASE_URL"
DEFAULT_DATABASE = Path(".reconciler") / "state.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_QUIET_WAIT_MS = 2_000  # a wait this long for another process's write lock is worth a word

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

# Every module that defines tables on ``metadata`` (a new table also needs a migration: see the docstring).
TABLE_MODULES: tuple[str, ...] = (
    "reconciler.store.locks",
    "reconciler.store.history",
    "reconciler.store.ownership",
    "reconciler.store.journal",
)


def load_tables() -> MetaData:
    """The metadata with every table registered (what the migrations must produce; Alembic's target)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return metadata


def database_url(explicit: str | None = None) -> str:
    """The URL to open: the explicit one, else ``$RECONCILER_DATABASE_URL``, else the default SQLite file."""
    if explicit and explicit.strip():
        return explicit.strip()
    env = os.environ.get(ENV_DATABASE_URL, "").strip()
    return env or f"sqlite:///{DEFAULT_DATABASE.as_posix()}"


def shown_url(url: str | None = None) -> str:
    """The store's URL (see :func:`database_url`) as shown in messages and logs: any password masked."""
    resolved = database_url(url)
    try:
        return make_url(resolved).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "(an invalid URL)"


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _tune_sqlite(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module: it would not BEGIN before a SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Transactions wait quietly this long, then say so (_begin_immediate) and wait out the rest.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_QUIET_WAIT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        _begin_immediate(connection, path)


def _begin_immediate(connection: Connection, path: Path | None) -> None:
    """``BEGIN IMMEDIATE`` (the connection waits ``SQLITE_QUIET_WAIT_MS`` for the write lock), and when another
    process holds the lock longer, a warning saying what it waits for, then the rest of the busy timeout."""
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    except exc.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
    logging.getLogger("reconciler.store").warning(
        "waiting for the write lock of the store %s: another process holds it (an apply, a migration, a tool "
        "with the file open); giving up after %ds",
        path or "(in memory)",
        SQLITE_BUSY_TIMEOUT_MS // 1000,
    )
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS - SQLITE_QUIET_WAIT_MS}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_QUIET_WAIT_MS}")


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


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0007"
"""The newest migration's revision (a test holds it to the migrations): a store already there opens
without importing Alembic, a third of a second of every command that records or locks."""


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the store, built in code: the migrations shipped in the package, and
    the connection to run them on (``env.py`` reads ``config.attributes["connection"]``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store to ``revision`` in one transaction (SQLite: ``BEGIN IMMEDIATE``, so two processes
    opening a fresh store one after the other, not both creating the tables)."""
    import logging

    from alembic import command

    # Alembic announces its context and every revision at INFO: noise in a plan's or drift's log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def _revision(engine: Engine) -> str | None:
    """The store's current revision, or None when it has none yet (a new or pre-migration store) or it
    cannot be read (Alembic then reports why)."""
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except exc.SQLAlchemyError:
        return None
    return versions[0] if len(versions) == 1 else None


def open_store(url: str | None = None) -> Store:
    """Open the store at ``url`` (see :func:`database_url`), migrated to the latest schema."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    path = _sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine, path)
    load_tables()
    if _revision(engine) != HEAD_REVISION:
        try:
            try:
                upgrade(engine)
            except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
                # Another process migrated between our check and our DDL (servers other than SQLite, where
                # BEGIN IMMEDIATE does not serialise DDL): checking again finds the store at head.
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
    store = Store(engine, resolved)
    from reconciler.store import recovery  # the tables' modules are loaded: no import cycle

    recovery.recover_once(store)  # what dead runs left: stale locks, applies still "running"
    return store
