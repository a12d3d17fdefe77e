"""The last line of defence: an error nobody anticipated still ends with a message, not a traceback (the
CLI's ``main`` shows it and exits 1; a watch cycle logs it and carries on).

Known environmental failures (a database that cannot be opened, a missing driver) get a message that
names the setting to fix; anything else is an internal error with a hint to report it.
``RECONCILER_DEBUG=1`` shows the traceback instead."""

from __future__ import annotations

import os
import sqlite3

DEBUG_ENV = "RECONCILER_DEBUG"


def debugging() -> bool:
    """``RECONCILER_DEBUG`` is set: let the error through, with its traceback."""
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no")


def explain(exc: BaseException) -> str:
    """One or two lines for a person, naming what to check."""
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg", "psycopg2"):
        return (
            f"error: the database URL needs the {exc.name} driver, which is not installed: "
            "pip install 'psycopg[binary]' (or use the default SQLite store: unset RECONCILER_DATABASE_URL)"
        )
    if isinstance(exc, sqlite3.Error) or _is_sqlalchemy_error(exc):
        return (
            f"error: cannot use a database: {_first_line(exc)}\n"
            "check --estate / RECONCILER_ESTATE (the embedded estate) and RECONCILER_DATABASE_URL (locks, "
            "history): the path must be writable, the server reachable"
        )
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return (
            f"error: {exc.strerror or exc}{where}\n"
            "check the paths in use: --estate / RECONCILER_ESTATE, RECONCILER_AUDIT_LOG, RECONCILER_DATABASE_URL"
        )
    return (
        f"internal error: {type(exc).__name__}: {_first_line(exc)}\n"
        f"this is a bug in reconciler; please report it with the output of the same command run with "
        f"{DEBUG_ENV}=1"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_sqlalchemy_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith("sqlalchemy.")
