"""The documentation: the README's size and its two set-up commands, the mkdocs site (docs/ plus the
results/*.md tables) building in strict mode, no hand-typed measurements in README.md, docs/*.md or
results/README.md (measured numbers live in the tables under results/, next to the run that made them),
and the CI configurations users copy (.github/workflows/): they run the README's test command and the
noxfile's sessions, so the three cannot drift apart.

Each check is a function returning its problems, and each is also run on text it must reject, so a
check that can no longer fail is caught too.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from signbench.cli import COMMANDS

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


# -- the CI configurations -----------------------------------------------------------------------
WORKFLOWS = {"tests": ".github/workflows/tests.yml", "bench": ".github/workflows/bench.yml"}
#: Where one shell command ends and the next begins in a step's script (command substitutions included).
SHELL_SEPARATORS = re.compile(r"&&|\|\||;|\||\$\(|\)")
#: Shell words that may come before a command's program.
SHELL_PREFIXES = {"if", "then", "else", "elif", "while", "until", "do", "!", "time", "exec", "{"}


def nox_sessions(source: str) -> set[str]:
    """The session names a noxfile defines (``@nox.session`` or ``@nox.session(name=...)``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            func = dec.func if isinstance(dec, ast.Call) else dec
            if ast.unparse(func) != "nox.session":
                continue
            named = [k.value for k in getattr(dec, "keywords", []) if k.arg == "name"]
            names.add(ast.literal_eval(named[0]) if named else node.name)
    return names


def _steps(workflow: dict) -> list[dict]:
    return [step for job in (workflow.get("jobs") or {}).values() for step in job.get("steps") or []]


def _commands(script: str) -> list[list[str]]:
    """The simple commands of a step's shell script, as words (line continuations joined)."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in SHELL_SEPARATORS.split(line.split(" #")[0]):
            try:
                words = shlex.split(part)
            except ValueError:
                words = part.split()
            while words and (words[0] in SHELL_PREFIXES or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0])):
                words = words[1:]  # VAR=value, or a keyword, before the program
            if words:
                out.append(words)
    return out


def workflow_problems(kind: str, workflow: dict, *, test_command: str, sessions: set[str]) -> list[str]:
    """What is wrong with a workflow (``kind`` "tests" or "bench"): every pytest it runs is the README's
    test command verbatim, every nox session and signbench command it names exists, and it has what its
    kind needs (tests: Python 3.11 and 3.13 with the pip cache; bench: nox -s bench-gpu on a
    self-hosted gpu runner, by hand and on a schedule, rows uploaded, the comparison in the job summary)."""
    problems = []
    triggers = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads a bare `on` as True
    triggers = {triggers: None} if isinstance(triggers, str) else dict.fromkeys(triggers)
    runs = [str(s["run"]) for s in _steps(workflow) if "run" in s]
    uses = [str(s["uses"]).split("@")[0] for s in _steps(workflow) if "uses" in s]
    nox_runs = []
    for script in runs:
        if "pytest" in script and script.strip() != test_command:
            problems.append(f"runs pytest other than as the README's test command ({test_command}): {script!r}")
        for words in _commands(script):
            program = Path(words[0]).name
            if program == "nox" or words[:3] in (["python", "-m", "nox"], ["python3", "-m", "nox"]):
                named = [w for flag, w in zip(words, words[1:], strict=False) if flag in ("-s", "--session", "--sessions")]
                if not named:
                    problems.append(f"runs nox without naming a session: {' '.join(words)!r}")
                problems += [f"runs nox session {n!r}, which the noxfile does not define" for n in named
                             if n not in sessions]
                nox_runs += named
            if program == "signbench" and (len(words) < 2 or words[1] not in COMMANDS):
                problems.append(f"runs a signbench command that does not exist: {' '.join(words)!r}")
    if kind == "tests":
        if test_command not in [r.strip() for r in runs]:
            problems.append(f"no step runs the README's test command: {test_command}")
        for name, job in (workflow.get("jobs") or {}).items():
            versions = [str(v) for v in (job.get("strategy") or {}).get("matrix", {}).get("python-version", [])]
            if not {"3.11", "3.13"} <= set(versions):
                problems.append(f"job {name} does not test Python 3.11 and 3.13: {versions}")
            setup = [s for s in job.get("steps") or [] if str(s.get("uses", "")).startswith("actions/setup-python@")]
            if not any((s.get("with") or {}).get("cache") == "pip" for s in setup):
                problems.append(f"job {name} does not set up Python with the pip cache")
        if not {"push", "pull_request"} <= set(triggers):
            problems.append(f"tests must run on push and pull_request, not only on {sorted(triggers)}")
    if kind == "bench":
        if "bench-gpu" not in nox_runs:
            problems.append("no step runs `nox -s bench-gpu`")
        for name, job in (workflow.get("jobs") or {}).items():
            labels = job.get("runs-on")
            labels = [labels] if isinstance(labels, str) else list(labels or [])
            if not {"self-hosted", "gpu"} <= set(labels):
                problems.append(f"job {name} must run on a self-hosted runner labelled gpu, not {labels}")
        if not {"workflow_dispatch", "schedule"} <= set(triggers):
            problems.append(f"bench must run by hand and on a schedule, not only on {sorted(triggers)}")
        if "actions/upload-artifact" not in uses:
            problems.append("the raw JSON and tables are not uploaded (actions/upload-artifact)")
        if not any("GITHUB_STEP_SUMMARY" in r and "signbench compare" in r for r in runs):
            problems.append("no step writes `signbench compare` with the last committed run into the job summary")
    return problems


def _workflow(pytestconfig, kind: str) -> dict:
    path = _root(pytestconfig) / WORKFLOWS[kind]
    assert path.is_file(), f"{path} is missing"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _sessions(pytestconfig) -> set[str]:
    return nox_sessions((_root(pytestconfig) / "noxfile.py").read_text(encoding="utf-8"))


def test_the_session_finder_sees_the_noxfile(pytestconfig):
    assert {"tests", "lint", "docs", "bench-cpu", "bench-gpu"} <= _sessions(pytestconfig)


@pytest.mark.parametrize("kind", sorted(WORKFLOWS))
def test_workflows_run_the_readmes_and_the_noxfiles_commands(pytestconfig, kind):
    problems = workflow_problems(kind, _workflow(pytestconfig, kind), test_command=TESTS,
                                 sessions=_sessions(pytestconfig))
    assert problems == []


def test_lint_checks_every_workflow(pytestconfig):
    """`nox -s lint` runs the workflow schema and zizmor over exactly the workflows that exist."""
    root = _root(pytestconfig)
    source = (root / "noxfile.py").read_text(encoding="utf-8")
    listed = next(ast.literal_eval(n.value) for n in ast.walk(ast.parse(source))
                  if isinstance(n, ast.Assign) and [ast.unparse(t) for t in n.targets] == ["WORKFLOWS"])
    assert sorted(listed) == sorted(str(p.relative_to(root)) for p in (root / ".github" / "workflows").glob("*.y*ml"))
    assert sorted(listed) == sorted(WORKFLOWS.values())
    assert '"check-jsonschema", "--builtin-schema", "vendor.github-workflows"' in source
    assert '"zizmor", "--offline"' in source


def _edit(workflow: dict, change) -> dict:
    w = copy.deepcopy(workflow)
    change(w)
    return w


def _set_run(w: dict, old: str, new: str) -> None:
    for step in _steps(w):
        if "run" in step and old in step["run"]:
            step["run"] = step["run"].replace(old, new)


def _job(w: dict) -> dict:
    return next(iter(w["jobs"].values()))


BAD_WORKFLOWS = [
    ("tests", "pytest-changed", lambda w: _set_run(w, "python3 -m pytest", "python3 -m pytest -x")),
    ("tests", "no-3.13", lambda w: _job(w)["strategy"]["matrix"].update({"python-version": ["3.11"]})),
    ("tests", "no-pip-cache", lambda w: [s.get("with", {}).pop("cache", None) for s in _job(w)["steps"]]),
    ("tests", "no-pull-request", lambda w: w.pop(True if True in w else "on") and w.update({"on": ["push"]})),
    ("tests", "unknown-session", lambda w: _job(w)["steps"].append({"run": "nox -s testz"})),
    ("bench", "unknown-session", lambda w: _set_run(w, "nox -s bench-gpu", "nox -s bench-gpus")),
    ("bench", "unknown-command", lambda w: _set_run(w, "signbench compare", "signbench comparer")),
    ("bench", "hosted-runner", lambda w: _job(w).update({"runs-on": "ubuntu-latest"})),
    ("bench", "no-schedule", lambda w: w.pop(True if True in w else "on") and w.update({"on": ["workflow_dispatch"]})),
    ("bench", "no-upload", lambda w: _job(w).update(
        steps=[s for s in _job(w)["steps"] if "upload-artifact" not in str(s.get("uses", ""))])),
    ("bench", "no-summary", lambda w: _set_run(w, "GITHUB_STEP_SUMMARY", "SOMEWHERE_ELSE")),
    ("bench", "pytest-directly", lambda w: _job(w)["steps"].append({"run": "python3 -m pytest bench"})),
    ("bench", "unknown-command-substituted", lambda w: _job(w)["steps"].append(
        {"run": 'x=$(signbench sumary "$raw")\nif signbench comapre a b; then echo; fi'})),
]


@pytest.mark.parametrize(("kind", "change"), [pytest.param(k, c, id=f"{k}-{i}") for k, i, c in BAD_WORKFLOWS])
def test_workflow_check_rejects(pytestconfig, kind, change):
    sessions = _sessions(pytestconfig)
    good = _workflow(pytestconfig, kind)
    assert workflow_problems(kind, good, test_command=TESTS, sessions=sessions) == []
    assert workflow_problems(kind, _edit(good, change), test_command=TESTS, sessions=sessions) != []
