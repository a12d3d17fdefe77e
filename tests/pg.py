"""A throwaway PostgreSQL server for the store tests (``postgresql`` fixture in conftest.py).

``initdb`` into a fresh temporary folder, ``pg_ctl start`` on a free port with its Unix socket in that
folder (no TCP listener, no password: ``trust`` for the local socket), one database, and ``pg_ctl stop``
at the end. The binaries are Debian's (``/usr/lib/postgresql/*/bin``, which ``make test`` installs with
apt when missing) or any on ``PATH``. PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` user (``runuser``), in a folder that user owns.

``stoppable()`` gives a server of a test's own that it can stop mid-run (``Server.stop``, ``immediate`` like a
crash) and start again on the same data and port.

Without binaries the PostgreSQL leg is skipped with the reason, unless ``RECONCILER_REQUIRE_POSTGRES=1``
(``make test`` sets it where it could install them, e.g. CI): then it fails.
"""

from __future__ import annotations

import contextlib
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


class Server:
    """A running throwaway server: its URL, and ``stop``/``start`` to take it away mid-test and bring it back
    (same data, port and socket folder)."""

    def __init__(self, root: Path, prefix: list[str], bindir: Path, port: int, user: str) -> None:
        self.root, self.prefix, self.bindir, self.port, self.user = root, prefix, bindir, port, user
        self.data, self.log = root / "data", root / "server.log"
        self.url = f"postgresql+psycopg://{user}@/{DATABASE}?host={root}&port={port}"

    def run(self, *args: str | Path) -> None:
        done = subprocess.run(
            [*self.prefix, *(str(a) for a in args)], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, args))} failed: {done.stdout}{done.stderr}{tail}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (clients disconnected cleanly) or ``immediate`` (as a crash: no shutdown checkpoint)."""
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")


@contextmanager
def stoppable() -> Iterator[Server]:
    """Start a throwaway server; yield it (stop and start it at will); stop and remove it at the end."""
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
    running = Server(root, prefix, bindir, _free_port(), user)
    try:
        running.run(bindir / "initdb", "-D", running.data, "-U", user, "--auth=trust", "--encoding=UTF8", "--no-sync")
        running.start()
        try:
            running.run(bindir / "createdb", "-h", root, "-p", str(running.port), "-U", user, DATABASE)
            yield running
        finally:
            with contextlib.suppress(RuntimeError):  # stopped already by the test
                running.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def server() -> Iterator[str]:
    """Start a throwaway server; yield its SQLAlchemy URL (``postgresql+psycopg``); stop and remove it."""
    with stoppable() as running:
        yield running.url


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
