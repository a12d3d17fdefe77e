"""Redfish BMCs for the BMC client tests: one sushy-tools emulator process per BMC (``redfish_bmcs`` and
``redfish_bmc`` fixtures in conftest.py), as every real BMC has an address of its own.

Each BMC gets a login generated at run time (a bcrypt htpasswd file, which sushy-tools' basic
authentication and the launcher's session service both check), a TLS certificate from the session's
throwaway CA, and a fresh state folder. The launcher (tests/redfish_emulator.py) binds a free port itself and
prints its URL. ``Bmc.get`` reads the emulator's resources directly, for assertions on what it holds.

sushy-tools is a test dependency (the ``test`` extra): without it the tests are skipped, unless
``RECONCILER_REQUIRE_REDFISH=1`` (``make test``) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from tests import tls

ENV_REQUIRE = "RECONCILER_REQUIRE_REDFISH"
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


class Unavailable(Exception):
    """The emulator cannot run here: why."""


def check_available() -> None:
    """Found without importing: importing the emulator here would build its Flask app in the test process."""
    missing = [name for name in ("sushy_tools", "bcrypt", "flask") if importlib.util.find_spec(name) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not installed: pip install -e '.[test]' (or make install)")


@dataclass
class Bmc:
    """One running emulated BMC."""

    url: str  # https://127.0.0.1:PORT
    vendor: str  # dell | hpe
    name: str  # the server's host name
    system_id: str
    user: str
    password: str
    ca_path: Path
    process: subprocess.Popen[str]

    def get(self, path: str) -> Any:
        """GET a resource with basic auth; its JSON (for assertions on the emulator's state)."""
        import requests

        answer = requests.get(
            f"{self.url}{path}", auth=(self.user, self.password), verify=str(self.ca_path), timeout=10
        )
        answer.raise_for_status()
        return answer.json()


class BmcFactory:
    """Starts BMCs on demand and stops them all at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        certs = tls.write_certificates(directory / "tls", label="bmc")
        self.ca_path, self._chain, self._key = certs.ca, certs.chain, certs.key
        self._bmcs: list[Bmc] = []
        self._count = 0

    def start(
        self,
        *,
        vendor: str = "dell",
        name: str | None = None,
        attributes: dict[str, str] | None = None,
        boot_polls: int = 1,
        fail_jobs: bool = False,
    ) -> Bmc:
        import bcrypt

        self._count += 1
        folder = self.directory / f"bmc{self._count}"
        (folder / "state").mkdir(parents=True)
        user, password = f"reconciler{self._count}", secrets.token_urlsafe(18)
        auth_file = folder / "htpasswd"
        auth_file.write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
        host = name or f"esx{self._count:02d}.lab.example"
        config = {
            "vendor": vendor,
            "name": host,
            "auth_file": str(auth_file),
            "tls_cert": str(self._chain),
            "tls_key": str(self._key),
            "state_dir": str(folder / "state"),
            "attributes": attributes or {},
            "boot_polls": boot_polls,
            "fail_jobs": fail_jobs,
        }
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config))
        log = (folder / "emulator.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.redfish_emulator", str(config_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        url = json.loads(_first_line(process, folder / "emulator.log"))["url"]
        bmc = Bmc(
            url=url,
            vendor=vendor,
            name=host,
            system_id="System.Embedded.1" if vendor == "dell" else "1",
            user=user,
            password=password,
            ca_path=self.ca_path,
            process=process,
        )
        self._bmcs.append(bmc)
        return bmc

    def close(self) -> None:
        for bmc in self._bmcs:
            bmc.process.terminate()
        for bmc in self._bmcs:
            try:
                bmc.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bmc.process.kill()
                bmc.process.wait(timeout=10)
            if bmc.process.stdout is not None:
                bmc.process.stdout.close()
        self._bmcs.clear()

    def __enter__(self) -> BmcFactory:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _first_line(process: subprocess.Popen[str], log: Path) -> str:
    """The emulator's start-up line, waited for with a bound."""
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.readline() if process.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not out or not out[0].strip():
        process.kill()
        raise RuntimeError(
            f"the Redfish emulator did not start within {START_TIMEOUT_S:.0f} s: {log.read_text()[-3000:]}"
        )
    return out[0]
