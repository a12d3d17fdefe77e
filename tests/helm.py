"""deploy/helm/reconciler rendered without helm: ``tests/helmrender`` (Go's text/template, the engine Helm uses,
with the few Helm and Sprig functions the chart calls) built once per version of its source into
``~/.cache/reconciler/helmrender``, like the vCenter simulator (Debian's golang-go; ``make test`` installs it).
Values are merged over the chart's values.yaml the way ``helm template --set`` merges them (maps deep, the rest
replaced)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "reconciler"
SOURCE = Path(__file__).resolve().parent / "helmrender" / "main.go"


class Unavailable(Exception):
    """No Go toolchain here: why."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def build() -> Path:
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").is_file() else None)
    if go is None:
        raise Unavailable("no Go toolchain to build the chart renderer: apt-get install golang-go, or run make test")
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True, timeout=60).stdout
    key = hashlib.sha256(version.encode() + SOURCE.read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reconciler" / "helmrender"
    binary = root / f"helmrender-{key}"
    if binary.is_file():
        return binary
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as work:
        shutil.copy2(SOURCE, Path(work) / "main.go")
        partial = root / f".helmrender-{key}-{os.getpid()}"
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": work, "GOCACHE": str(root / "go-build")}
        subprocess.run([go, "build", "-o", str(partial), "main.go"], cwd=work, env=env, check=True, timeout=300)
        partial.replace(binary)
    return binary


def render(values: dict[str, Any] | None = None, *, release: str = "reconciler", namespace: str = "reconciler") -> str:
    """The chart rendered as ``helm template RELEASE CHART -n NAMESPACE`` with ``values`` over the defaults."""
    merged = _merge(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")), values or {})
    chart = {k[:1].upper() + k[1:]: v for k, v in yaml.safe_load((CHART / "Chart.yaml").read_text()).items()}
    done = subprocess.run(
        [str(build()), str(CHART), release, namespace, json.dumps(chart)],
        input=json.dumps(merged),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"the chart does not render: {done.stderr}")
    return done.stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]
