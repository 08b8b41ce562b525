"""results/index.html in a real browser (Debian's Chromium driven by Playwright): every chart decodes,
every link resolves, the tables are there, the console is clean; and the checker itself catches a
broken page."""

from __future__ import annotations

from pathlib import Path

import pytest

from signbench.testing.browser import INSTALL_HINT, inspect_page, launch, require_browser
from signbench.testing.contracts import check_png
from signbench.testing.local_http import serve

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_browser_opens_the_results_index(tmp_path):
    exe = require_browser()
    with serve(RESULTS) as base, launch(exe) as browser:
        page = inspect_page(browser, f"{base}/index.html", tmp_path / "index.png")
    assert page.problems == [], page.problems
    assert page.title.startswith("signbench results")
    charts = sorted((RESULTS / "index").glob("*.png"))
    assert len(page.images) == len(charts) > 0
    assert all(i["naturalWidth"] > 0 for i in page.images)
    assert len(page.tables) >= 5 and all(n > 0 for n in page.tables), page.tables
    names = {link.rsplit("/", 1)[-1] for link in page.links}
    assert {"cpu.csv", "course_reproduction.csv", "README.md", "history.csv"} <= names
    assert any("#" in link for link in page.links)  # the contents line's anchors were checked too
    check_png(page.screenshot)


def test_browser_check_catches_a_broken_page(tmp_path):
    exe = require_browser()
    good = tmp_path / "ok.png"
    good.write_bytes((RESULTS / "index" / sorted(p.name for p in (RESULTS / "index").glob("*.png"))[0]).read_bytes())
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "page.html").write_text(
        '<!doctype html><html><head><title>t</title></head><body>'
        '<img src="ok.png"><img src="broken.png"><img src="missing.png">'
        '<a href="ok.png">fine</a><a href="nowhere.csv">dead</a><a href="#gone">anchor</a>'
        '<a href="https://example.org/">outside</a>'
        '<table><tbody><tr><td>1</td></tr></tbody></table>'
        '<script>console.error("boom"); undefinedFunction();</script></body></html>'
    )
    with serve(tmp_path) as base, launch(exe) as browser:
        page = inspect_page(browser, f"{base}/page.html")
    assert sorted(s.rsplit("/", 1)[-1] for s in page.broken_images) == ["broken.png", "missing.png"]
    broken = " ".join(page.broken_links)
    assert "nowhere.csv" in broken and "#gone" in broken and "example.org" in broken and "ok.png" not in broken
    assert any("boom" in e for e in page.console_errors)
    assert any("undefinedFunction" in e for e in page.console_errors)
    assert page.tables == [1]


def test_browser_missing_skips_with_the_install_hint_except_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("SIGNBENCH_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium") as skipped:
        require_browser()
    assert INSTALL_HINT in str(skipped.value) and "Chromium executable" in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_browser()
