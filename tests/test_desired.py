"""Each kind's desired object has one typed shape (``core.desired``): expand builds exactly it, from the example
specs and from every valid validation fixture, and the plan fixtures (the planner's cases per kind) hold it too.
mypy checks every use in the code against the same types; this holds the data to them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.core import desired, kinds
from reconciler.engine import expand
from reconciler.spec.loader import load_paths
from tests.helpers import SPECS

FIXTURES = Path(__file__).parent / "fixtures"


def _problems(kind: str, value: Mapping[str, Any]) -> list[str]:
    required, optional = desired.keys(kind)
    missing = sorted(required - set(value))
    unknown = sorted(set(value) - required - optional)
    return [f"{kind}: missing {missing}"] * bool(missing) + [f"{kind}: not in its type {unknown}"] * bool(unknown)


def test_every_kind_has_a_desired_type_and_only_kinds_do() -> None:
    assert set(desired.BY_KIND) == set(kinds.KINDS)


def test_expand_builds_each_kinds_desired_type() -> None:
    resources = expand.expand(load_paths([SPECS]).specs)
    assert {r.kind for r in resources} == set(kinds.KINDS) - {kinds.HOST_KIND}  # every kind the specs declare
    problems = [p for r in resources for p in _problems(r.kind, r.desired)]
    assert not problems, problems


def test_the_plan_fixtures_hold_each_kinds_desired_type() -> None:
    problems = []
    for case in sorted((FIXTURES / "plan").glob("*/*.yaml")):
        resource = (yaml.safe_load(case.read_text(encoding="utf-8")) or {}).get("resource") or {}
        kind = str(resource.get("address", "")).split(":", 1)[0]
        problems += [f"{case.name}: {p}" for p in _problems(kind, resource.get("desired") or {})]
    assert not problems, problems


def test_a_missing_or_misspelt_field_is_found() -> None:
    good = dict(next(r for r in expand.expand(load_paths([SPECS]).specs) if r.kind == "asr.replication_policy").desired)
    assert _problems("asr.replication_policy", good) == []
    good["recoveryPointHour"] = good.pop("recoveryPointHours")
    assert _problems("asr.replication_policy", good) == [
        "asr.replication_policy: missing ['recoveryPointHours']",
        "asr.replication_policy: not in its type ['recoveryPointHour']",
    ]
