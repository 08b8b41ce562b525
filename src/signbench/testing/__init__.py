"""Testing support: the pytest plugin shared by tests/ and bench/ (``-p signbench.testing`` in pyproject),
the benchmark plugin (:mod:`signbench.testing.bench`), the model contract checklist
(:mod:`signbench.testing.contracts`), hypothesis strategies (:mod:`signbench.testing.strategies`) and
the fixtures generator (:mod:`signbench.testing.fixtures`).

Fixtures: ``realdata`` (the real CSV folder; skips with the path in the reason only when absent, the
reason being :func:`real_data_missing`'s),
``datapath`` (files under the checkout's fixtures/, failing loudly when missing). Hypothesis profiles:
``dev`` and ``ci`` (derandomized), chosen by $HYPOTHESIS_PROFILE or $CI.

Marker ``untraced``: the marked test (or every test and module fixture of a module whose ``pytestmark``
has it) runs Keras's train, test and predict steps op by op (:func:`untraced`). For the tiny models and
few steps of such tests, tracing a step function costs seconds and running the steps milliseconds; the
traced path is what every unmarked test and every benchmark runs.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def untraced():
    """Keras's step functions run eagerly inside: ``tf.config.run_functions_eagerly`` on the TensorFlow
    backend, ``jax.disable_jit`` on JAX (torch runs eagerly already). tf.data's functions are traced
    whatever the setting (TensorFlow warns so). Restores the previous setting on exit."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        before = tf.config.functions_run_eagerly()
        tf.config.run_functions_eagerly(True)
        try:
            yield
        finally:
            tf.config.run_functions_eagerly(before)
    elif backend == "jax":
        import jax

        with jax.disable_jit():
            yield
    else:
        yield


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "untraced: Keras steps run op by op (signbench.testing.untraced), for tiny models whose "
        "tracing would cost more than their steps; on a module's pytestmark it covers module fixtures too",
    )


def pytest_collection_modifyitems(config, items):
    """A ``realdata`` test trains at the real sizes, where running steps op by op would cost many times the
    tracing it saves: refuse ``untraced`` on one (put it in a module of its own)."""
    both = [i.nodeid for i in items if i.get_closest_marker("realdata") and i.get_closest_marker("untraced")]
    if both:
        raise pytest.UsageError(f"realdata tests must run traced, but these are marked untraced: {', '.join(both)}")


def _untraced_if_marked(node):
    """Run the rest of a fixture untraced when ``node`` (a module or a test) carries the marker; nested
    entries are harmless (each exit restores what it found)."""
    if node.get_closest_marker("untraced") is None:
        yield
        return
    with untraced():
        yield


@pytest.fixture(scope="module", autouse=True)
def _untraced_module(request):
    """A module whose ``pytestmark`` has the marker: its module fixtures and tests run untraced."""
    yield from _untraced_if_marked(request.node)


@pytest.fixture(autouse=True)
def _untraced_test(request):
    """A marked test."""
    yield from _untraced_if_marked(request.node)
