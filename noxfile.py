"""nox sessions for signbench. `nox` alone runs the default sessions (tests, lint)."""

from __future__ import annotations

import os
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fixtures plus real-data tests when the data is present)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


#: The CI configurations users can copy (checked here, and against the README and this file by tests/test_docs.py).
WORKFLOWS = [".github/workflows/tests.yml", ".github/workflows/bench.yml"]


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff (errors, pyflakes, import order, bugbear, pyupgrade); check the GitHub workflows
    against the workflow schema (check-jsonschema's vendored copy: no network) and audit them with
    zizmor (offline: its audits that need GitHub's API are skipped)."""
    session.install("ruff>=0.5", "check-jsonschema>=0.29", "zizmor>=1.0")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py", *session.posargs)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run("zizmor", "--offline", *WORKFLOWS)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with `mkdocs build --strict` into a temporary folder (fails on any warning).

    The site is docs/ plus every results/*.md table, which docs/hooks.py adds to the build, so a broken
    link from a page to a table fails the session.
    """
    if session.venv_backend != "none":  # `nox --no-venv -s docs` uses the installed mkdocs as is
        session.install("mkdocs>=1.6")
    site = os.path.join(session.create_tmp(), "site")
    session.run("mkdocs", "build", "--strict", "--site-dir", site)


#: The benchmark run behind results/<name>.csv|md (raw JSON under results/raw/, never overwritten).
BENCH_ARGS = ["-m", "pytest", "bench", "--benchmark-enable", "--results-dir", "results", "-m", "not slow"]
RAW_DIR = Path("results") / "raw"


def _install_for_bench(session: nox.Session, *extra: str) -> None:
    if session.venv_backend != "none":  # `nox --no-venv -s bench-cpu` uses the installed python as is
        session.install("-e", ".[test]", *extra)


def _run_bench(session: nox.Session, name: str, env: dict[str, str]) -> None:
    """The benchmarks into results/, then where their rows went and `signbench summary` of them (real or
    synthetic data, best runtime and training samples/s per model), also when some benchmarks failed."""
    before = set(RAW_DIR.glob("*.json"))
    failed = None
    try:
        session.run("python", *BENCH_ARGS, "--results-name", name, *session.posargs, env=env)
    except CommandFailed as exc:
        failed = exc
    new = sorted(set(RAW_DIR.glob("*.json")) - before)
    if not new:
        session.log("signbench: no rows were written (see pytest's output above)")
    for raw in new:
        session.log(f"signbench: the rows went to {raw} and its tables (below)")
        session.run("python", "-m", "signbench", "summary", str(raw), env=env)
    if failed is not None:
        session.error(f"the benchmark run failed ({failed}); see pytest's output and the summary above")


@nox.session(name="bench-cpu", default=False)
def bench_cpu(session: nox.Session) -> None:
    """Benchmarks on this machine's CPU (GPUs hidden): results/raw/<run>.json + results/cpu.csv|md
    (cpu_synthetic.csv|md when the real data is absent and the rows ran on synthetic images), then
    where the rows went and a one-screen summary.

    Every benchmark in bench/, the training-speed study's full-length runs included (each course model
    trained for 20 epochs several times), so it is long on 2 cores; it has not been timed as a whole.
    Extra arguments go to pytest (e.g. `-- -k cnn`, or `-- -k "not full_length and not seeds"`).
    """
    _install_for_bench(session)
    _run_bench(session, "cpu", {"CUDA_VISIBLE_DEVICES": "-1"})


_GPU_CHECK = {
    "tensorflow": "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))",
    "jax": "import jax; print(len([d for d in jax.devices() if d.platform == 'gpu']))",
}
_GPU_INSTALL = {"tensorflow": "tensorflow[and-cuda]>=2.21,<2.22", "jax": "jax[cuda12]"}


@nox.session(name="bench-gpu", default=False)
def bench_gpu(session: nox.Session) -> None:
    """Benchmarks on a GPU, writing results/gpu.csv|md (gpu_synthetic.csv|md without the real data),
    then where the rows went and a one-screen summary. The backend is $KERAS_BACKEND (default
    tensorflow: installs tensorflow[and-cuda]; jax: installs jax[cuda12], and the TFLite rows are
    skipped with the reason). Exits non-zero with a message when the backend sees no GPU; never
    runs on the CPU."""
    import os

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in _GPU_CHECK:
        session.error(f"bench-gpu: KERAS_BACKEND={backend!r} is not supported here; use tensorflow or jax")
    _install_for_bench(session, _GPU_INSTALL[backend])
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend}
    out = session.run("python", "-c", _GPU_CHECK[backend], silent=True, env=env)
    gpus = int(str(out).strip().splitlines()[-1]) if out else 0
    if gpus == 0:
        session.error(
            f"bench-gpu: the {backend} backend sees no GPU; refusing to run the GPU benchmarks on the CPU. "
            "Check the driver / CUDA_VISIBLE_DEVICES, or run `nox -s bench-cpu`."
        )
    _run_bench(session, "gpu", env)


@nox.session(name="bench-compare", default=False)
def bench_compare(session: nox.Session) -> None:
    """The regression gate: run the CPU benchmarks into a temporary results folder (results/ is left as
    it is) and compare the run with the last committed run on the same kind of device (same device, CPU
    flags and backend) under results/raw, with `signbench compare last NEW`: a one-sided Mann-Whitney U
    test per benchmark on the raw rounds, minimum effect 10%. Fails on a significant regression; says so
    and passes when results/raw holds no run of this kind. Extra arguments go to pytest (e.g. `-- -k cnn`).
    """
    import shutil
    from pathlib import Path

    _install_for_bench(session)
    out = Path(session.create_tmp()) / "bench-compare"
    shutil.rmtree(out, ignore_errors=True)
    session.run("python", "-m", "pytest", "bench", "--benchmark-enable", "--results-dir", str(out),
                "--results-name", "cpu", "-m", "not slow", *session.posargs, env={"CUDA_VISIBLE_DEVICES": "-1"})
    runs = sorted((out / "raw").glob("*.json"))
    if not runs:
        session.error(f"bench-compare: the benchmark run wrote no raw file under {out / 'raw'}")
    session.run("python", "-m", "signbench", "compare", "last", str(runs[-1]), "--raw-dir", "results/raw",
                env={"CUDA_VISIBLE_DEVICES": "-1"})
