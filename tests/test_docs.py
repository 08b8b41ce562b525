"""The documentation: the README's size and its two set-up commands, the mkdocs site (docs/ plus the
results/*.md tables) building in strict mode, and no hand-typed measurements in README.md, docs/*.md or
results/README.md (measured numbers live in the tables under results/, next to the run that made them).

Each check is a function returning its problems, and each is also run on text it must reject, so a
check that can no longer fail is caught too.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README_MAX_CHARS = 10_000
MAIN_JOB = "python3 -m pip install -e . && signbench reproduce"
TESTS = 'python3 -m pip install -q -e ".[test]" && python3 -m pytest'
#: How another set-up command in the README would start (a command line, not a mention in a tree or prose).
SETUP_STARTS = ("signbench reproduce", "python3 -m pytest", "python -m pytest", "pytest")
FENCE = re.compile(r"^```[^\n]*\n(.*?)\n```[ \t]*$", re.MULTILINE | re.DOTALL)

#: What a hand-typed measurement looks like: a number with a time or speed unit, a speed-up factor,
#: a clock duration, an accuracy-like decimal.
WITH_UNIT = re.compile(r"\d+(\.\d+)?\s?(ms|us|µs|s|min|samples/s|GFLOP/s)\b")
SPEEDUP = re.compile(r"\d+\.\d+x\b")
DURATION = re.compile(r"\d+m\d+s")
ACCURACY = re.compile(r"0\.\d{3,}")
#: The accuracies the course itself printed (signbench.models.course.COURSE_PUBLISHED): allowed only on a
#: line that also says "course", so they stay attributed.
COURSE_PRINTED = frozenset({"0.9999", "0.7572", "0.7616", "0.9251", "0.7937", "0.9972", "0.8575", "0.8826"})


def _root(pytestconfig) -> Path:
    return Path(pytestconfig.rootpath)


def _label_before(text: str, start: int) -> str:
    """The last non-empty line before position ``start``."""
    lines = [ln.strip() for ln in text[:start].splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def readme_problems(text: str) -> list[str]:
    """Size, the two set-up commands verbatim as the first code blocks ("Main job", then "Tests"),
    and no other code block that looks like a set-up command."""
    problems = []
    if len(text.encode("utf-8")) > README_MAX_CHARS:
        problems.append(f"README.md is {len(text.encode('utf-8'))} bytes, more than {README_MAX_CHARS}")
    blocks = [(m.group(1).strip(), m.start()) for m in FENCE.finditer(text)]
    for i, (command, label) in enumerate([(MAIN_JOB, "Main job"), (TESTS, "Tests")]):
        if command not in text:
            problems.append(f"the {label} command is missing: {command}")
        elif i >= len(blocks) or blocks[i][0] != command:
            problems.append(f"code block {i + 1} of the README must be exactly the {label} command: {command}")
        elif not _label_before(text, blocks[i][1]).startswith(label):
            problems.append(f"the {label} command's code block must be labelled {label!r}")
    if MAIN_JOB in text and TESTS in text and text.index(MAIN_JOB) > text.index(TESTS):
        problems.append("the Main job command must come before the Tests command")
    for body, _ in blocks[2:]:
        for line in body.splitlines():
            if "pip install" in line or line.strip().startswith(SETUP_STARTS):
                problems.append(f"another code block looks like a set-up command: {line.strip()!r}")
    return problems


def measurement_hits(text: str) -> list[str]:
    """Every place in ``text`` that looks like a measured number typed by hand."""
    hits = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for rx in (WITH_UNIT, SPEEDUP, DURATION):
            hits += [f"line {lineno}: {m.group(0)!r}" for m in rx.finditer(line)]
        for m in ACCURACY.finditer(line):
            if m.group(0) in COURSE_PRINTED and "course" in line.lower():
                continue
            hits.append(f"line {lineno}: {m.group(0)!r}")
    return hits


def _prose_files(root: Path) -> list[Path]:
    docs = sorted((root / "docs").glob("*.md"))
    assert docs, f"no Markdown pages under {root / 'docs'}"
    return [root / "README.md", *docs, root / "results" / "README.md"]


# -- README --------------------------------------------------------------------------------------
def test_readme_size_and_setup_commands(pytestconfig):
    text = (_root(pytestconfig) / "README.md").read_text(encoding="utf-8")
    assert readme_problems(text) == []


def _good_readme() -> str:
    return f"# x\n\nMain job:\n\n```\n{MAIN_JOB}\n```\n\nTests:\n\n```\n{TESTS}\n```\n\nmore\n\n```\nsignbench data X\n```\n"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(_good_readme() + "x" * README_MAX_CHARS, id="too-long"),
        pytest.param(_good_readme().replace(MAIN_JOB, "TEMP").replace(TESTS, MAIN_JOB).replace("TEMP", TESTS),
                     id="swapped"),
        pytest.param(_good_readme().replace(TESTS, "python3 -m pytest"), id="tests-command-changed"),
        pytest.param(_good_readme().replace("Main job:", "Run:"), id="unlabelled"),
        pytest.param("```\npip install foo\n```\n" + _good_readme(), id="another-block-first"),
        pytest.param(_good_readme() + "\n```\npython3 -m pip install -e .\n```\n", id="extra-setup-block"),
        pytest.param(_good_readme() + "\n```\nsignbench reproduce --quick\n```\n", id="extra-run-block"),
    ],
)
def test_readme_check_rejects(bad):
    assert readme_problems(_good_readme()) == []
    assert readme_problems(bad) != []


# -- no hand-typed measurements ------------------------------------------------------------------
def test_no_hand_typed_measurements_in_readme_and_docs(pytestconfig):
    root = _root(pytestconfig)
    found = {str(p.relative_to(root)): measurement_hits(p.read_text(encoding="utf-8")) for p in _prose_files(root)}
    found = {k: v for k, v in found.items() if v}
    assert not found, (
        f"measured numbers typed by hand (link to the table under results/ instead): {found}"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "the full run took 17m54s",
        "test accuracy 0.9969 for seed 0",
        "fast is 3.20x plain",
        "one image: p50 257 us",
        "1,154 samples/s at batch 128",
        "matmul peak 105 GFLOP/s",
        "tf.function 3.4 ms",
        "about 18 min on 2 cores",
        "280-313 s of training",
        "our CNN reached 0.8826",  # a course number, but not attributed to the course
        "the course printed 0.8826; we measured 0.8470",  # the second is ours
    ],
)
def test_measurement_check_catches(bad):
    assert measurement_hits(bad) != []


@pytest.mark.parametrize(
    "fine",
    [
        "the course printed 0.8826 for its best checkpoint",
        "20 epochs, batch 128, Adam 1e-3, 3,281,798 parameters, 28x28 images",
        "MobileNetV2 alpha 0.35, within 0.5 point, --threshold 0.10, atol=1e-5",
        "16 steps per call; 5 samples per class; 30 seconds",
    ],
)
def test_measurement_check_allows(fine):
    assert measurement_hits(fine) == []


# -- the site ------------------------------------------------------------------------------------
def test_mkdocs_builds_strictly_with_the_results_tables(pytestconfig, tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (it comes with the [test] extra)")
    root = _root(pytestconfig)
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(root / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for page in sorted((root / "docs").glob("*.md")):
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.is_file(), f"{page.name} was not built ({built})"
    # docs/hooks.py adds every results/*.md: index.md (the results index) becomes results/index.html, the
    # others results/NAME/ (README.md too); the CSV files and the index's charts are published beside them.
    tables = sorted((root / "results").glob("*.md"))
    assert {"README.md", "index.md"} <= {t.name for t in tables} and len(tables) > 2
    for table in tables:
        built = site / "results" / ("index.html" if table.name == "index.md" else f"{table.stem}/index.html")
        assert built.is_file(), f"results/{table.name} is not in the site ({built})"
    assert (site / "results" / "cpu" / "index.html").is_file() and (site / "results" / "cpu.csv").is_file()
    index_html = (site / "results" / "index.html").read_text()
    assert "one screen per question" in index_html
    for chart in sorted((root / "results" / "index").glob("*.png")):
        assert (site / "results" / "index" / chart.name).is_file(), chart.name
        assert f"index/{chart.name}" in index_html
    assert not (site / "hooks.py").exists(), "the hook must not be published as a page asset"
