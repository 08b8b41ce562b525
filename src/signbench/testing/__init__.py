"""Testing support: the pytest plugin shared by tests/ and bench/ (``-p signbench.testing`` in pyproject),
the benchmark plugin (:mod:`signbench.testing.bench`), the model contract checklist
(:mod:`signbench.testing.contracts`), hypothesis strategies (:mod:`signbench.testing.strategies`) and
the fixtures generator (:mod:`signbench.testing.fixtures`).

Fixtures: ``realdata`` (the real CSV folder; skips with the path in the reason only when absent, the
reason being :func:`real_data_missing`'s),
``datapath`` (files under the checkout's fixtures/, failing loudly when missing). Hypothesis profiles:
``dev`` and ``ci`` (derandomized), chosen by $HYPOTHESIS_PROFILE or $CI.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TF's C++ logging; set before TF is imported
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

from signbench.data.locate import TRAIN_CSV, real_data_dir  # noqa: E402

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "ci", deadline=None, max_examples=25, derandomize=True, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
except ImportError:  # hypothesis is a test extra; the plugin still serves bench/ without it
    pass


def real_data_missing() -> str | None:
    """None when the real Sign Language MNIST CSVs are here, else why not (with the path looked at)."""
    d = real_data_dir()
    if not (d / TRAIN_CSV).is_file():
        return f"real Sign Language MNIST not found at {d} (set SIGNBENCH_DATA_DIR)"
    return None


@pytest.fixture(scope="session")
def realdata():
    if why := real_data_missing():
        pytest.skip(why)
    return real_data_dir()


@pytest.fixture
def datapath(request):
    fixtures = request.config.rootpath / "fixtures"

    def _datapath(*parts: str):
        p = fixtures.joinpath(*parts)
        if not p.exists():
            raise FileNotFoundError(f"fixture {p} is missing; regenerate with `signbench fixtures`")
        return p

    return _datapath
