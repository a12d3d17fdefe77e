"""A plan saved with ``plan -o``, as ``apply PLANFILE`` reads and checks it: recognised by its content, refused
when the file is not what plan wrote (``reports.plan_json.check_saved``: its format, checksum and fields), and
refused when it is no longer the plan (:func:`check_saved`: another tool version, the specs or the live
objects changed, or they no longer produce its values). Terraform's rule: what the saved plan says, or
nothing (docs/plan-format.md, "Saved plans")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.core.changes import Action, Plan
from reconciler.engine import staleness
from reconciler.reports import plan_json
from reconciler.runs import audit
from reconciler.runs.errors import PlanStale, SavedPlanUnreadable


@dataclass(frozen=True)
class SavedPlan:
    """A plan saved with ``plan -o``, as read back: the plan, and where its specs were."""

    path: Path
    plan: Plan
    spec_paths: tuple[str, ...]

    @property
    def deletes(self) -> bool:
        """It deletes: it was made with ``--prune`` and reviewed with its deletes."""
        return any(c.action is Action.DELETE for c in self.plan.pending)


def read_saved(path: Path) -> SavedPlan:
    """The plan file at ``path``, checked (``plan_json.check_saved``: this format, its checksum, its fields);
    :class:`SavedPlanUnreadable` when it is not a plan this version applies as it was written."""
    try:
        data = plan_json.loads(path.read_text(encoding="utf-8"))  # a file nested too deep: PlanFormatError
        plan_json.check_saved(data)
        plan, spec_paths = plan_json.from_dict(data)
    except RecursionError as exc:  # whatever else walks a crafted file's values: no plan nests like this
        raise SavedPlanUnreadable(path, ValueError("nested too deeply to be a plan file made by plan -o")) from exc
    except (OSError, ValueError, plan_json.PlanFormatError) as exc:
        raise SavedPlanUnreadable(path, exc) from exc
    return SavedPlan(path, plan, tuple(spec_paths))


def read_plan_file(path: Path) -> SavedPlan | None:
    """The saved plan at ``path`` when the file is one (:func:`read_saved`), else None (specs). Recognised by
    its content, whatever its name (``plan -o p.plan``, ``tfplan``): a JSON object, which no spec file starts
    with; or a ``.json`` file, which then has to be a plan."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
    except OSError:
        return None  # the spec loader says why it cannot be read
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") or path.suffix.lower() == ".json":
        return read_saved(path)
    return None


def check_saved(saved: SavedPlan, current: Plan) -> None:
    """:class:`PlanStale` unless ``current`` (the plan made now, under the locks) is still ``saved``: made by
    this version of the tool, from the same specs (values and policies), on the same live objects, and
    producing, value for value, the changes the file lists. Terraform's rule: what the saved plan says, or
    nothing."""
    import reconciler

    made_by = saved.plan.tool_version
    if made_by != reconciler.__version__:
        raise PlanStale(
            f"{saved.path} was made by reconciler {made_by}; this is reconciler {reconciler.__version__}", []
        )
    shown = audit.redact_plan(current)  # the file holds the plan redacted: compare like with like
    if saved.plan.spec_digest != current.spec_digest:
        changes = staleness.spec_changes(saved.plan, shown) or ["(a resource outside the plan's targets)"]
        raise PlanStale(f"The specs changed since {saved.path} was made", changes)
    moved = staleness.live_changes(saved.plan, shown)
    if moved:
        raise PlanStale(f"The live state changed since {saved.path} was made", moved)
    differ = staleness.reviewed_changes(saved.plan, shown)
    if differ:  # the file's values were edited, or its digest forged
        raise PlanStale(f"The specs no longer produce the reviewed plan {saved.path}", differ)
