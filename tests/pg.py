"""A throwaway PostgreSQL server for the store tests (``postgresql`` fixture in conftest.py).

``initdb`` into a fresh temporary folder, ``pg_ctl start`` on a free port with its Unix socket in that
folder (no TCP listener, no password: ``trust`` for the local socket), one database, and ``pg_ctl stop``
at the end. The binaries are Debian's (``/usr/lib/postgresql/*/bin``, which ``make test`` installs with
apt when missing) or any on ``PATH``. PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` user (``runuser``), in a folder that user owns.

Without binaries the PostgreSQL leg is skipped with the reason, unless ``RECONCILER_REQUIRE_POSTGRES=1``
(``make test`` sets it where it could install them, e.g. CI): then it fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_REQUIRE = "RECONCILER_REQUIRE_POSTGRES"
DATABASE = "reconciler_test"


class Unavailable(Exception):
    """No PostgreSQL binaries here: why."""


def bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest Debian version first, then ``PATH``)."""

    def version(folder: str) -> float:
        try:
            return float(Path(folder).parent.name)
        except ValueError:
            return 0.0

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(pg_ctl).resolve().parent
    raise Unavailable("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql, or run make test")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server() -> Iterator[str]:
    """Start a throwaway server; yield its SQLAlchemy URL (``postgresql+psycopg``); stop and remove it."""
    bindir = bin_dir()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable("running as root, and no postgres user to run the server as") from exc
        os.chown(root, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str | Path) -> None:
        done = subprocess.run(
            [*prefix, *(str(a) for a in args)], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, args))} failed: {done.stdout}{done.stderr}{tail}")

    try:
        run(bindir / "initdb", "-D", data, "-U", user, "--auth=trust", "--encoding=UTF8", "--no-sync")
        options = f"-p {port} -k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        try:
            run(bindir / "createdb", "-h", root, "-p", str(port), "-U", user, DATABASE)
            yield f"postgresql+psycopg://{user}@/{DATABASE}?host={root}&port={port}"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """A new empty database ``name`` on the server of ``server_url``, dropped afterwards; yields its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
