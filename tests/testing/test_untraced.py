"""The ``untraced`` marker of the ``signbench.testing`` plugin: Keras's steps run op by op in a marked test,
traced in an unmarked one, and the setting is restored after the test."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from signbench.testing import pytest_collection_modifyitems, untraced


class _Counting(keras.layers.Layer):
    """Counts its Python calls: once per step when steps run eagerly, once per trace when they are traced."""

    calls = 0

    def call(self, x):
        type(self).calls += 1
        return x


def _calls_in_ten_steps() -> int:
    model = keras.Sequential([keras.Input((2,)), _Counting(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    _Counting.calls = 0  # the symbolic call that built the model is not a step
    model.fit(np.zeros((40, 2), "float32"), np.zeros((40, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    return _Counting.calls


@pytest.mark.untraced
def test_a_marked_test_runs_every_step_eagerly():
    assert _calls_in_ten_steps() == 10


def test_an_unmarked_test_traces_its_steps():
    assert _calls_in_ten_steps() < 10


def test_the_context_manager_restores_the_setting():
    before = _calls_in_ten_steps()
    with untraced():
        assert _calls_in_ten_steps() == 10
    assert _calls_in_ten_steps() == before


def test_a_realdata_test_cannot_be_untraced():
    class Item:
        def __init__(self, nodeid, *marks):
            self.nodeid, self.marks = nodeid, marks

        def get_closest_marker(self, name):
            return getattr(pytest.mark, name).mark if name in self.marks else None

    fine = [Item("a.py::tiny", "untraced"), Item("b.py::real", "realdata"), Item("c.py::plain")]
    pytest_collection_modifyitems(None, fine)
    with pytest.raises(pytest.UsageError, match=r"realdata tests must run traced.*d.py::real_and_untraced"):
        pytest_collection_modifyitems(None, [*fine, Item("d.py::real_and_untraced", "realdata", "untraced")])
