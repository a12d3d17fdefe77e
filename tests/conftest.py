"""Shared test helpers: paths to the repository's example specs and fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True, scope="session")
def _temporary_lock_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """apply takes scope locks in $RECONCILER_DATABASE_URL (default: .reconciler/state.db in the working
    directory): every test, and every subprocess it starts, uses a temporary database instead."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'state.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_DATABASE_URL", url)
        yield


@pytest.fixture(autouse=True, scope="session")
def _temporary_audit_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """apply appends audit events to $RECONCILER_AUDIT_LOG (default: .reconciler/audit.jsonl in the working
    directory): every test, and every subprocess it starts, writes to a temporary file instead."""
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_AUDIT_LOG", str(path))
        yield
