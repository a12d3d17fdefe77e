"""deploy/: the Helm chart (one CronJob per shard, sharing the PostgreSQL store; docs/scaling.md) and the plain
manifests rendered from it. Rendered without helm (tests/helm.py: Go's text/template, the engine Helm uses) and
checked against the Kubernetes JSON schemas kubernetes-validate ships (offline, strict: unknown fields fail)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as k8s

from tests import helm

MANIFESTS = helm.ROOT / "deploy" / "manifests" / "reconciler.yaml"
KUBERNETES = "1.30.0"  # the oldest version the manifests must suit (CronJob batch/v1, securityContext fields)


def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    try:
        return helm.documents(helm.render(values))
    except helm.Unavailable as exc:
        if os.environ.get("RECONCILER_REQUIRE_VCSIM", "").strip() == "1":  # make test installed Go for vcsim
            pytest.fail(f"{exc} (Go is required where make test installed it)")
        pytest.skip(str(exc))


def _valid(documents: list[dict[str, Any]]) -> None:
    for doc in documents:
        for version in (KUBERNETES, k8s.latest_version()):
            k8s.validate(doc, version, strict=True)  # raises ValidationError naming the field


def _shards(documents: list[dict[str, Any]]) -> list[list[str]]:
    jobs = [d for d in documents if d["kind"] == "CronJob"]
    return [job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] for job in jobs]


def test_the_chart_renders_one_valid_cronjob_per_shard() -> None:
    documents = _render()
    _valid(documents)
    args = _shards(documents)
    assert [a[a.index("--shard") + 1] for a in args] == ["0/4", "1/4", "2/4", "3/4"]
    assert all(a[:3] == ["watch", "/work/repo/specs", "--once"] and "--auto-correct" not in a for a in args)
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == ["CronJob"] * 4 + ["ServiceAccount"]
    job = next(d for d in documents if d["kind"] == "CronJob")
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "reconciler-credentials"}}]  # never inline
    assert job["spec"]["concurrencyPolicy"] == "Forbid"


def test_values_change_the_shards_and_auto_correct() -> None:
    documents = _render({"shards": 2, "autoCorrect": True, "schedule": "*/5 * * * *"})
    _valid(documents)
    args = _shards(documents)
    assert [a[a.index("--shard") + 1] for a in args] == ["0/2", "1/2"]
    assert all("--auto-correct" in a for a in args)


def test_the_plain_manifests_are_the_chart_rendered_and_valid() -> None:
    import yaml

    committed = [d for d in yaml.safe_load_all(MANIFESTS.read_text(encoding="utf-8")) if d]
    _valid(committed)  # needs no Go: the schemas alone
    assert committed == _render(), "deploy/manifests is stale: regenerate it (docs/scaling.md)"


def test_a_wrong_field_fails_the_schema_check(tmp_path: Path) -> None:
    documents = _render()
    job = next(d for d in documents if d["kind"] == "CronJob")
    job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["argz"] = ["oops"]
    with pytest.raises(k8s.ValidationError):
        k8s.validate(job, KUBERNETES, strict=True)
