"""Alembic environment of the history store (see the package docstring).

Online, on the connection the caller passed in ``config.attributes["connection"]`` (``open_store``), inside
the caller's transaction; without one (an operator running ``alembic`` by hand with ``sqlalchemy.url`` set),
on a connection of its own. Offline (``--sql``) it renders the DDL for the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from reconciler.store.db import database_url, load_tables

config = context.config
target_metadata = load_tables()


def _url() -> str:
    return database_url(config.get_main_option("sqlalchemy.url"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


run()
