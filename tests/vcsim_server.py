"""vcsim, govmomi's vCenter simulator, as a real peer for the vSphere client tests (``vcsim`` fixture in
conftest.py).

The Go main in ``tests/vcsim/`` (datacenter, a cluster of ESXi hosts, VMs per host, the host power system,
test-controlled CPU ready) is built against Debian's ``golang-github-vmware-govmomi-dev`` sources in GOPATH
mode, once per version of its sources: the binary is cached in ``$XDG_CACHE_HOME/reconciler/vcsim`` (default
``~/.cache``) under a digest of the Go files and the Go version, so a cold build (about 16 s) happens once per
machine and every later session starts the simulator in a tenth of a second.

``start`` runs it with a login generated at run time, TLS from a throwaway CA, on a free port it picks itself
(``127.0.0.1:0``: no race for a port), and reads the one JSON line it prints (URL, hosts, VMs). CPU ready is
what the test writes with ``Vcsim.set_cpu_ready`` (milliseconds per 20-second sample, as vCenter reports
``cpu.ready.summation``): the simulator reads that file on every QueryPerf.

Without Go or the govmomi sources the tests are skipped with the reason, unless
``RECONCILER_REQUIRE_VCSIM=1`` (``make test`` sets it where it could install them): then they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests import tls

ENV_REQUIRE = "RECONCILER_REQUIRE_VCSIM"
SOURCES = Path(__file__).resolve().parent / "vcsim"
GOVMOMI = Path("/usr/share/gocode/src/github.com/vmware/govmomi")
START_TIMEOUT_S = 30.0


class Unavailable(Exception):
    """vcsim cannot be built here: why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconciler" / "vcsim"


def _go() -> str:
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").is_file() else None)
    if go is None:
        raise Unavailable(
            "no Go toolchain: apt-get install golang-go golang-github-vmware-govmomi-dev, or run make test"
        )
    if not (GOVMOMI / "simulator").is_dir():
        raise Unavailable(f"no govmomi sources in {GOVMOMI}: apt-get install golang-github-vmware-govmomi-dev")
    return go


def build() -> Path:
    """The simulator binary for the current Go sources, built on first use and cached between runs."""
    go = _go()
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True, timeout=60).stdout
    digest = hashlib.sha256(version.encode())
    for source in sorted(SOURCES.glob("*.go")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    key = digest.hexdigest()[:16]
    root = cache_dir()
    binary = root / f"vcsim-{key}"
    if binary.is_file():
        return binary
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix="gopath-") as gopath:
        package = Path(gopath) / "src" / "reconciler-vcsim"
        package.mkdir(parents=True)
        for source in SOURCES.glob("*.go"):
            shutil.copy2(source, package / source.name)
        partial = root / f".vcsim-{key}-{os.getpid()}"
        env = {
            **os.environ,
            "GO111MODULE": "off",
            "GOPATH": f"{gopath}:/usr/share/gocode",
            "GOCACHE": str(root / "go-build"),
            "GOFLAGS": "",
        }
        done = subprocess.run(
            [go, "build", "-o", str(partial), "."],
            check=False,
            cwd=package,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"go build of tests/vcsim failed:\n{done.stdout}{done.stderr}")
        partial.replace(binary)  # atomic: a concurrent run sees no half-written binary
    return binary


@dataclass
class Vcsim:
    """A running simulator: where it listens, the login it accepts, the CA that signed its certificate."""

    url: str  # https://127.0.0.1:PORT/sdk
    host: str
    port: int
    user: str
    password: str
    ca_path: Path
    hosts: tuple[str, ...]
    vms: tuple[dict[str, object], ...]
    cpu_ready_file: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_cpu_ready(
        self,
        *,
        hosts: Mapping[str, int | Sequence[int]] | None = None,
        vms: Mapping[str, int | Sequence[int]] | None = None,
    ) -> None:
        """CPU ready the simulator reports from now on, in ms per 20 s sample (a list: samples, oldest first).
        Entities not named read 0 ms."""
        document = {
            "hosts": {k: v if isinstance(v, int) else list(v) for k, v in (hosts or {}).items()},
            "vms": {k: v if isinstance(v, int) else list(v) for k, v in (vms or {}).items()},
        }
        with self._lock:
            partial = self.cpu_ready_file.with_suffix(".partial")
            partial.write_text(json.dumps(document))
            partial.replace(self.cpu_ready_file)  # the simulator never reads a half-written file


@contextmanager
def start(binary: Path, directory: Path, *, hosts: int = 3, vms_per_host: int = 2) -> Iterator[Vcsim]:
    """Run the simulator until the block ends; yields where it listens and how to log in."""
    directory.mkdir(parents=True, exist_ok=True)
    certs = tls.write_certificates(directory, label="vcsim")
    ca_path, chain_path, key_path = certs.ca, certs.chain, certs.key
    ready_file = directory / "cpu-ready.json"
    ready_file.write_text('{"hosts": {}, "vms": {}}')
    user, password = f"svc-{secrets.token_hex(4)}@vsphere.local", secrets.token_urlsafe(18)
    env = {
        **os.environ,
        "VCSIM_USERNAME": user,
        "VCSIM_PASSWORD": password,
        "VCSIM_TLS_CERT": str(chain_path),
        "VCSIM_TLS_KEY": str(key_path),
        "VCSIM_HOSTS": str(hosts),
        "VCSIM_VMS_PER_HOST": str(vms_per_host),
        "VCSIM_CPU_READY_FILE": str(ready_file),
        "TMPDIR": str(directory),  # the simulator's datastore folders go here, removed with it
    }
    log = (directory / "vcsim.log").open("w")
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = _first_line(process, directory / "vcsim.log")
        started = json.loads(line)
        url = str(started["url"])
        address = url.split("//", 1)[1].split("/", 1)[0]
        host, port = address.rsplit(":", 1)
        yield Vcsim(
            url=url,
            host=host,
            port=int(port),
            user=user,
            password=password,
            ca_path=ca_path,
            hosts=tuple(started["hosts"]),
            vms=tuple(started["vms"]),
            cpu_ready_file=ready_file,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def _first_line(process: subprocess.Popen[str], log: Path) -> str:
    """The simulator's start-up line, waited for on a thread with a bound (readline alone could block)."""
    assert process.stdout is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.readline() if process.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not out or not out[0].strip():
        process.kill()
        raise RuntimeError(f"vcsim did not start within {START_TIMEOUT_S:.0f} s: {log.read_text()[-2000:]}")
    return out[0]
