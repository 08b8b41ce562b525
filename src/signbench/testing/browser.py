"""A real browser for the reports: Debian's Chromium driven by Playwright, offline.

``pip install playwright`` gives the driver; ``playwright install`` (which downloads a browser) is never
needed: :func:`chromium_path` finds the system Chromium (``$SIGNBENCH_CHROMIUM``, else ``chromium`` /
``chromium-browser`` on PATH, from Debian's ``chromium`` package: ``apt-get install -y chromium``).

:func:`require_browser` skips a test with the install hint where the browser or Playwright is missing,
except in CI (``CI=true``), where it fails. :func:`signbench.testing.local_http.serve` serves a folder over
HTTP on localhost (so that links and images load as they would from a web server), and :func:`inspect_page`
opens a page and reports what a reader would see broken: images that do not decode (``naturalWidth == 0``), links that do
not resolve (same-site links fetched, ``#anchors`` looked up), console errors and uncaught exceptions,
failed requests, and the tables with their row counts; it saves a full-page screenshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

__all__ = ["INSTALL_HINT", "PageReport", "chromium_path", "inspect_page", "launch", "require_browser"]

INSTALL_HINT = (
    "install Debian's Chromium and Playwright: `apt-get install -y chromium && python3 -m pip install "
    "playwright` (no `playwright install` needed: the tests drive /usr/bin/chromium)"
)
#: Chromium switches for a headless run as root in a container, with no network of its own.
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-sync",
)


def chromium_path() -> str | None:
    """The system Chromium's executable, or None."""
    env = os.environ.get("SIGNBENCH_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium path; else skip with the install hint (fail in CI, where the browser must be there)."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    exe = chromium_path()
    if exe is None:
        missing.append("a Chromium executable (chromium on PATH or $SIGNBENCH_CHROMIUM)")
    if missing:
        reason = f"{' and '.join(missing)} missing: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return exe


@contextlib.contextmanager
def launch(executable: str) -> Iterator:
    """A headless Chromium (a Playwright Browser) from ``executable``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageReport:
    url: str
    title: str = ""
    images: list[dict] = field(default_factory=list)  # src, naturalWidth
    links: list[str] = field(default_factory=list)  # every href, resolved
    tables: list[int] = field(default_factory=list)  # body rows per table
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        return ([f"image does not decode: {s}" for s in self.broken_images]
                + [f"link does not resolve: {s}" for s in self.broken_links]
                + [f"console: {s}" for s in self.console_errors]
                + [f"request failed: {s}" for s in self.failed_requests])


_IMAGES = "() => Array.from(document.images).map(i => ({src: i.currentSrc || i.src, w: i.naturalWidth, ok: i.complete}))"
_LINKS = "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
_TABLES = "() => Array.from(document.querySelectorAll('table')).map(t => t.querySelectorAll('tbody tr').length)"


def inspect_page(browser, url: str, screenshot: str | os.PathLike | None = None) -> PageReport:
    """Open ``url`` and check its images, links, tables and console (see the module's docstring)."""
    report = PageReport(url)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: report.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: report.console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: report.failed_requests.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: report.failed_requests.append(f"{r.url} (HTTP {r.status})")
            if r.status >= 400 else None)
    try:
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            report.broken_links.append(f"{url} (the page itself: {response and response.status})")
            return report
        page.wait_for_load_state("networkidle")
        report.title = page.title()
        report.images = [{"src": i["src"][:120], "naturalWidth": i["w"]} for i in page.evaluate(_IMAGES)]
        report.broken_images = [i["src"] for i in report.images if not i["naturalWidth"]]
        report.tables = list(page.evaluate(_TABLES))
        report.links = list(page.evaluate(_LINKS))
        origin = "{0.scheme}://{0.netloc}".format(urlparse(url))
        for href in sorted(set(report.links)):
            target, anchor = urldefrag(href)
            if target == urldefrag(url)[0]:
                if anchor and not page.evaluate("id => document.getElementById(id) !== null", anchor):
                    report.broken_links.append(href)
            elif href.startswith(origin):
                status = page.request.get(target).status
                if status != 200:
                    report.broken_links.append(f"{href} (HTTP {status})")
            else:  # the reports are read offline: nothing may point outside them
                report.broken_links.append(f"{href} (outside the report)")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
            report.screenshot = Path(screenshot)
    finally:
        page.close()
    return report
