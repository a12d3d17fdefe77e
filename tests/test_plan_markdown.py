"""The plan as a pull-request comment (``plan --format markdown``, reports/plan_markdown.py): counts per site
and tenant, every change field by field, escaped, and never longer than a comment may be."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.addresses import Address
from reconciler.core.changes import Action, ActionReason, FieldChange, NoopReason, Plan, ResourceChange
from reconciler.reports import plan_markdown
from reconciler.store import history
from reconciler.store.db import Store
from tests.helpers import EMBEDDED_ENV, SPECS, init_estate, isolate, out, run


def _change(name: str, action: Action, **kw: object) -> ResourceChange:
    reason = {Action.CREATE: ActionReason.CREATE, Action.UPDATE: ActionReason.UPDATE, Action.ADOPT: ActionReason.ADOPT}
    return ResourceChange(
        address=Address("vmm.cloud", "acmecorp", name),
        action=action,
        before=None,
        after={"name": name},
        action_reason=reason.get(action),
        site="contoso-west",
        tenant="acmecorp",
        **kw,  # type: ignore[arg-type]
    )


def test_every_change_is_listed_escaped_with_counts_per_scope() -> None:
    plan = Plan(
        changes=(
            _change("Evil | <script>*x*</script>", Action.CREATE),
            _change(
                "Grown",
                Action.UPDATE,
                fields=(FieldChange("capacity.vms", 10, 20),),
                disruptive="the VM must be off",
            ),
            _change("Found", Action.ADOPT, reason="exists without reconciler's ownership marker: adopted as it is"),
            _change("Old", Action.NOOP, noop_reason=NoopReason.NOT_DECLARED, reason="not declared; kept"),
        ),
        created_at="2026-12-05T03:00:00+00:00",
        spec_digest="ab" * 32,
    )
    text = plan_markdown.render(plan)
    assert text.startswith("### reconciler plan — 1 to create, 1 to update, 0 to replace, 0 to delete, 1 to adopt")
    assert "| tenant acmecorp (site contoso-west) | 1 | 1 | 0 | 0 | 1 | 1 |" in text
    assert "<script>" not in text and "&lt;script&gt;" in text and "Evil \\| " in text
    assert "| capacity.vms | 10 | 20 | ⚠️ disruptive: the VM must be off |" in text
    assert "🤝 adopt" in text and "adopted as it is" in text
    assert "not declared; kept" in text  # kept objects are listed with their reason


def test_a_large_plan_is_cut_to_fit_a_comment() -> None:
    changes = tuple(_change(f"Cloud {i:05d}", Action.CREATE) for i in range(5_000))
    plan = Plan(changes=changes, created_at="2026-12-05T03:00:00+00:00", spec_digest="0" * 64)
    text = plan_markdown.render(plan)
    assert len(text) <= plan_markdown.LIMIT
    assert "**Truncated:**" in text and "5000 to create" in text


def test_no_changes_says_so() -> None:
    plan = Plan(changes=(), created_at="2026-12-05T03:00:00+00:00", spec_digest="0" * 64)
    assert "No changes: the estate matches the specs." in plan_markdown.render(plan)


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(tmp_path, monkeypatch, unset=EMBEDDED_ENV, database=None, audit_log="audit.jsonl")
    return init_estate(tmp_path / "estate.db")


def test_plan_prints_markdown_and_show_renders_the_stored_plan_alike(estate: Path, store: Store) -> None:
    result = run("plan", SPECS, "--format", "markdown", "--estate", estate)
    assert result.exit_code == 0, out(result)
    assert result.stdout.startswith("### reconciler plan — 30 to create, 12 to update")
    assert "<details>" in result.stdout and "| hyperv.vm_memory" not in result.stdout  # titles, not kinds
    (recorded,) = history.list_runs(kind="plan", store=store)
    shown = run("show", recorded.id, "--format", "markdown")
    assert shown.exit_code == 0 and shown.stdout == result.stdout
