"""A module marked ``untraced`` on its ``pytestmark``: its module-scoped fixtures run untraced too (the claims
pipeline trains every model in one)."""

from __future__ import annotations

import keras
import pytest

pytestmark = pytest.mark.untraced


@pytest.fixture(scope="module")
def eager_at_module_setup() -> bool:
    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks TensorFlow's run_functions_eagerly setting")
    import tensorflow as tf

    return tf.config.functions_run_eagerly()


def test_module_fixtures_run_untraced(eager_at_module_setup):
    assert eager_at_module_setup is True
