"""What a plan is made of: one ``ResourceChange`` per resource, with field-level differences.

Modelled on Terraform's typed plans: the action drives apply; ``reason`` is for people only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.addresses import Address
from reconciler.core.diagnostics import Diagnostic
from reconciler.core.resources import Policy

PLAN_FORMAT_VERSION = 4
"""The plan file's format (docs/plan-format.md). 3: ``vacates``; 4: the tool's version, a checksum, and each
change's policy (lifecycle, rollout, window), so that a saved plan says everything that decides what apply
does."""


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    ADOPT = "adopt"  # take over an existing object: its ownership marker is written, nothing else changes
    NOOP = "noop"
    READ = "read"


class ActionReason(enum.StrEnum):
    """Why a change acts: decided once by the pure planner, never re-inferred from field paths downstream.
    Providers and renderers read it; like Terraform's ActionReason it explains, the action drives."""

    CREATE = "create"  # the object does not exist
    UPDATE = "update"  # fields differ and can change in place
    REPLACE = "replace"  # an immutable field differs: delete, then create
    RESUME = "resume"  # in sync, but an interrupted apply left a procedure half done (a VM it stopped)
    LIFECYCLE = "lifecycle"  # in sync; only the ownership marker's prune/protect changes
    PRUNE = "prune"  # not declared any more, created by the tool and marked prunable: --prune deletes it
    ADOPT = "adopt"  # exists without the tool's marker and the spec says adopt: mark it, change nothing else


class NoopReason(enum.StrEnum):
    """Why nothing will be done: typed, so reports can group and tests can match."""

    IN_SYNC = "in-sync"
    OBSERVE_ONLY = "observe-only"
    IGNORED_FIELDS = "ignored-fields"
    MISSING_UNMANAGED = "missing-unmanaged"  # a VM or host that does not exist: an error, never a create
    BLOCKED = "blocked"  # a dependency cannot be created
    NOT_DECLARED = "not-declared"  # live in a managed scope, absent from the specs, and kept (see reason)
    UNOWNED = "unowned"  # exists without the tool's ownership tags: differences reported, never changed


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any
    new: Any
    immutable: bool = False


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: Address
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[FieldChange, ...] = ()
    reason: str = ""
    noop_reason: NoopReason | None = None
    action_reason: ActionReason | None = None  # None exactly when nothing is done (NOOP, READ)
    disruptive: str = ""  # why the change disrupts (VM must be off, host must reboot); empty if not
    error: str = ""  # the change cannot be planned (e.g. the VM does not exist)
    unfinished: str = ""  # what an interrupted or failed apply left half done here (a host in maintenance)
    depends_on: tuple[Address, ...] = ()
    site: str = ""
    tenant: str | None = None
    observed_version: str = ""
    # Dependents whose replace must delete their object before this change can run (``KindInfo.vacate_for``):
    # this change's step deletes them first (the first half of their replace); their own steps, which wait for
    # this one, create them again.
    vacates: tuple[Address, ...] = ()
    # What decides how apply treats it besides the values (lifecycle, rollout and its window): None for an
    # object the specs do not declare.
    policy: Policy | None = None

    @property
    def is_change(self) -> bool:
        return self.action not in (Action.NOOP, Action.READ)


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[ResourceChange, ...]
    created_at: str
    spec_digest: str
    diagnostics: tuple[Diagnostic, ...] = ()
    format_version: int = PLAN_FORMAT_VERSION
    targets: tuple[str, ...] = field(default=())
    excludes: tuple[str, ...] = field(default=())
    tool_version: str = ""  # the reconciler that made it, when read back from a plan file

    @property
    def pending(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.is_change and not c.error]

    @property
    def errors(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.error]

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for c in self.changes:
            out[c.action.value] += 1
        out["error"] = len(self.errors)
        return out
