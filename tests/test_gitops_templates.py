"""The GitOps pipelines in examples/ (docs/gitops.md) and the pre-commit hooks: each template passes its platform's
checker (actionlint for GitHub Actions; the GitLab CI and Azure Pipelines schemas check-jsonschema vendors, offline),
a broken copy does not (the checkers are not no-ops), and each pipeline does the three things the docs promise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests import linters
from tests.helpers import ROOT, SPECS, out, run

EXAMPLES = ROOT / "examples"
GITHUB = EXAMPLES / "github-actions" / "reconciler.yml"
GITLAB = EXAMPLES / "gitlab-ci" / ".gitlab-ci.yml"
AZURE = EXAMPLES / "azure-devops" / "azure-pipelines.yml"
# What every pipeline runs: validate and plan on a pull request, apply the saved plan on merge, drift on a schedule.
PROMISES = (
    "validate specs/",
    "fmt --check",
    "plan specs/ --out plan.json --format markdown",
    "apply",
    "plan.json",
    "watch specs/ --once",
    "--format html",
)


def _actionlint(path: Path) -> list[dict[str, object]]:
    try:
        return linters.actionlint(path)
    except linters.Unavailable as exc:
        if os.environ.get(linters.ENV_REQUIRE_ACTIONLINT, "").strip() == "1":
            pytest.fail(f"{exc} ({linters.ENV_REQUIRE_ACTIONLINT}=1 requires it)")
        pytest.skip(str(exc))


@pytest.mark.parametrize("path", [GITHUB, GITLAB, AZURE], ids=["github", "gitlab", "azure-devops"])
def test_each_pipeline_validates_plans_applies_the_saved_plan_and_drifts(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for promise in PROMISES:
        assert promise in text, f"{path.name} lacks {promise!r}"
    assert "--allow-disruption" not in text  # disruptive changes wait for their maintenance window
    yaml.safe_load(text)


def test_the_github_workflow_passes_actionlint(tmp_path: Path) -> None:
    assert _actionlint(GITHUB) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(GITHUB.read_text(encoding="utf-8").replace("runs-on:", "run-on:", 1), encoding="utf-8")
    messages = " ".join(str(f["message"]) for f in _actionlint(broken))
    assert '"runs-on" section is missing' in messages


@pytest.mark.parametrize(
    ("path", "builtin", "breaking"),
    [
        (GITLAB, "vendor.gitlab-ci", ("  stage: plan\n", "  stagee: plan\n")),
        (AZURE, "vendor.azure-pipelines", ("        steps:\n", "        stepz:\n")),
    ],
    ids=["gitlab", "azure-devops"],
)
def test_gitlab_and_azure_pipelines_match_their_schemas(
    path: Path, builtin: str, breaking: tuple[str, str], tmp_path: Path
) -> None:
    checked = linters.check_jsonschema(builtin, path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / path.name
    text = path.read_text(encoding="utf-8")
    assert breaking[0] in text
    broken.write_text(text.replace(*breaking, 1), encoding="utf-8")
    assert linters.check_jsonschema(builtin, broken).returncode == 1


def test_the_pre_commit_hooks_run_validate_and_fmt() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"reconciler-validate", "reconciler-fmt", "reconciler-fmt-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["entry"].startswith("reconciler ")
        args = hook["entry"].split()[1:] + hook.get("args", [])
        if hook.get("pass_filenames", True):
            args += [str(p) for p in sorted(SPECS.rglob("*.yaml"))]  # what pre-commit passes: the changed files
        else:
            args = [a if a != "specs" else str(SPECS) for a in args]
        if hook["id"] == "reconciler-fmt-fix":
            args.insert(1, "--check")  # the example specs are canonical: prove it without rewriting them
        result = run(*args)
        assert result.exit_code == 0, out(result)
