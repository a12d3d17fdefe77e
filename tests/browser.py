"""What the tests of the HTML reports (drift, drill) share: a strict parse of the page (every element closed in
order, nothing loaded from anywhere), and headless Chromium (Debian's ``/usr/bin/chromium``, never a downloaded
browser) to render it, take a screenshot kept in ``tests/artifacts/`` and dump the DOM it built."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"


class Checker(HTMLParser):
    """Parses the page and checks every element it opens is closed in order (void elements aside)."""

    VOID = frozenset({"meta", "br", "line", "rect", "link", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            assert not (value or "").startswith(("http:", "https:", "//")) or name == "xmlns", (tag, name, value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], checker.stack
    return checker


def chromium() -> str:
    """Chromium's path; skipped without it (a failure on CI, where ``make test`` installs it)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("CI: Debian's chromium is required (make test installs it with apt-get)")
    pytest.skip("chromium is not installed (apt-get install chromium; make test installs it)")


def _headless(browser: str, profile: Path) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ]


def render(page: Path, *, screenshot: str, profile: Path, height: int = 1600) -> str:
    """Open ``page`` in headless Chromium: a screenshot in ``tests/artifacts/<screenshot>`` (checked to be a real
    PNG), and the DOM Chromium built from the page."""
    browser = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    shot.unlink(missing_ok=True)
    url = page.resolve().as_uri()
    common = _headless(browser, profile)
    subprocess.run(
        [*common, f"--screenshot={shot}", f"--window-size=1280,{height}", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    return subprocess.run([*common, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120).stdout
