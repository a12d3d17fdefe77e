"""Files the CLI writes and the webhook it posts to (issue #13, section 6): ``plan -o`` and ``drift -o`` never
follow a file planted where they write, and a webhook does not follow redirects (to internal addresses).

All local: the working directory and estate in ``tmp_path``, HTTP on 127.0.0.1 (free ports)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.embedded import seed
from reconciler.runs import clock, webhook
from tests.helpers import EMBEDDED_ENV, SPECS, init_estate, isolate, out
from tests.helpers import run as _run


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch, unset=(seed.ENV_ESTATE_DB, clock.TEST_NOW_ENV, *EMBEDDED_ENV), audit_log="-")


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return init_estate(tmp_path / "estate.db")


def test_plan_out_never_writes_through_a_planted_partial_file(tmp_path: Path, estate: Path) -> None:
    """A symlink at ``FILE.partial`` (the temporary name plan used) pointing at another file: the victim stays
    as it was, the plan lands at FILE, a regular file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    plan_file = tmp_path / "reviewed.plan"
    (tmp_path / "reviewed.plan.partial").symlink_to(victim)
    result = _run("plan", SPECS, "--estate", estate, "-o", plan_file)
    assert result.exit_code == 0, out(result)
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert plan_file.is_file() and not plan_file.is_symlink()
    assert json.loads(plan_file.read_text(encoding="utf-8"))["changes"]
    leftovers = {p.name for p in tmp_path.iterdir()} - {"victim.txt", "reviewed.plan", "reviewed.plan.partial"}
    assert not [name for name in leftovers if "partial" in name or name.startswith(".reviewed")], leftovers


def test_drift_out_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path: Path, estate: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    report = tmp_path / "drift.json"
    report.symlink_to(victim)
    result = _run("drift", SPECS, "--estate", estate, "--format", "json", "-o", report)
    assert result.exit_code == 2, out(result)
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert not report.is_symlink() and json.loads(report.read_text(encoding="utf-8"))["resources"]


class _Server:
    """An HTTP server on 127.0.0.1 that answers every POST with ``status`` (and ``location``, if given) and
    records the paths it was asked for."""

    def __init__(self, status: int, location: str = "") -> None:
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.paths.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.http.server_port}"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def internal() -> Iterator[_Server]:
    """What a redirect would lead to: an internal service that must never be reached."""
    server = _Server(200)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_does_not_follow_redirects(status: int, internal: _Server) -> None:
    redirecting = _Server(status, location=f"{internal.url}/admin/metadata")
    try:
        posted = webhook.post_webhook(f"{redirecting.url}/hook", {"text": "hi", "event": "drift.appeared"}, wait_s=0)
    finally:
        redirecting.close()
    assert posted is False
    assert redirecting.paths == ["/hook"]  # asked once: a redirect is an answer, not worth a retry
    assert internal.paths == []
