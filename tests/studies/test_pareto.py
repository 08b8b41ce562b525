"""The Pareto study: the front on hand-made points (and a property test), the interleaved timing loop,
the registry, and ``signbench pareto`` end to end on tiny synthetic CSVs."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signbench.meta import available_cores
from signbench.studies.pareto import (
    KERAS_RUNTIMES,
    MODELS,
    RUNTIMES,
    Timing,
    dominates,
    front,
    runtime_name,
    select,
)

pytestmark = pytest.mark.untraced  # tiny models, few steps: tracing would cost more than the steps (signbench.testing)


# -- the front ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("points", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([(0.5, 10.0)], [True], id="one"),
        pytest.param([(0.9, 100.0), (0.8, 50.0), (0.85, 200.0), (0.95, 300.0)], [True, True, False, True],
                     id="one-dominated"),
        pytest.param([(0.9, 100.0), (0.9, 100.0)], [True, True], id="equal-points-both-on"),
        pytest.param([(0.9, 100.0), (0.9, 100.0), (0.95, 90.0)], [False, False, True], id="equal-points-both-off"),
        pytest.param([(0.9, 100.0), (0.9, 150.0)], [True, False], id="same-accuracy-slower-is-off"),
        pytest.param([(0.9, 100.0), (0.8, 100.0)], [True, False], id="same-latency-less-accurate-is-off"),
        pytest.param([(0.99, 1000.0), (0.98, 100.0), (0.97, 10.0), (0.96, 20.0)], [True, True, True, False],
                     id="staircase"),
    ],
)
def test_front_on_hand_made_points(points, expected):
    assert front(points) == expected


def test_dominates_needs_one_strict_improvement():
    assert dominates((0.9, 10.0), (0.8, 10.0)) and dominates((0.9, 10.0), (0.9, 20.0))
    assert not dominates((0.9, 10.0), (0.9, 10.0))  # equal: neither dominates
    assert not dominates((0.95, 20.0), (0.9, 10.0)) and not dominates((0.9, 10.0), (0.95, 20.0))  # a trade-off


def test_front_refuses_non_finite_values():
    with pytest.raises(ValueError, match="finite"):
        front([(0.9, 10.0), (float("nan"), 5.0)])
    with pytest.raises(ValueError, match="finite"):
        front([(0.9, float("inf"))])


# A small grid of values makes ties (equal accuracy, equal latency, equal points) common.
_ACCURACY = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]), st.floats(0, 1, allow_nan=False))
_LATENCY = st.one_of(st.sampled_from([1.0, 10.0, 100.0]), st.floats(0.1, 1e6, allow_nan=False))


@given(st.lists(st.tuples(_ACCURACY, _LATENCY), max_size=30))
def test_front_property(points):
    """No point on the front is dominated by any point; every point off it is dominated by one on it."""
    on = front(points)
    assert len(on) == len(points)
    for p, flag in zip(points, on, strict=True):
        if flag:
            assert not any(dominates(q, p) for q in points), p
        else:
            assert any(dominates(q, p) for q, q_on in zip(points, on, strict=True) if q_on), p
    if points:  # the most accurate of the fastest points is never dominated
        best = max((p for p in points if p[1] == min(q[1] for q in points)), key=lambda p: p[0])
        assert on[points.index(best)]


# -- the timing loop ---------------------------------------------------------------------------------
def test_interleaved_times_every_callable_every_round_in_a_seeded_order():
    from signbench.deploy.latency import interleaved_us

    calls: list[str] = []
    fns = {name: (lambda n=name: calls.append(n)) for name in "abcd"}
    times = interleaved_us(fns, rounds=7, warmup=3, seed=1)
    assert set(times) == set("abcd") and all(t.shape == (7,) and (t > 0).all() for t in times.values())
    rounds = [calls[i:i + 4] for i in range(0, len(calls), 4)]
    assert len(rounds) == 10 and all(sorted(r) == list("abcd") for r in rounds)  # round-robin
    assert len({tuple(r) for r in rounds}) > 1  # the order changes from round to round
    again: list[str] = []
    interleaved_us({name: (lambda n=name: again.append(n)) for name in "abcd"}, rounds=7, warmup=3, seed=1)
    assert again == calls  # seeded
    with pytest.raises(ValueError):
        interleaved_us(fns, rounds=0, warmup=0, seed=0)


def test_thread_counts_default_to_every_count_up_to_the_cores():
    from signbench.deploy.latency import thread_counts

    assert thread_counts() == tuple(range(1, available_cores() + 1)) and thread_counts([2]) == (2,)
    for bad in ([], [0], (1, -1)):
        with pytest.raises(ValueError):
            thread_counts(bad)
        with pytest.raises(ValueError):
            Timing(threads=tuple(bad))  # the pareto's timing refuses them when it is made
    assert Timing(threads=(1,)).threads == (1,)


# -- the registry ------------------------------------------------------------------------------------
def test_registry_and_runtimes():
    from signbench.deploy.convert import MODES

    names = [e.name for e in MODELS]
    assert names == ["baseline", "regularized", "cnn", "cnn_plus", "speedrun", "deployable"]
    assert RUNTIMES == ("keras", "tf.function", *(f"tflite {m}" for m in MODES))
    # one deployable model: the deployable rung's int8 TFLite
    assert [(e.name, e.deployable) for e in MODELS if e.deployable] == [("deployable", "tflite int8")]
    assert [e.name for e in select(["cnn", "baseline"])] == ["baseline", "cnn"]  # registry order
    with pytest.raises(ValueError, match="nope"):
        select(["cnn", "nope"])
    assert runtime_name("keras", None) == "keras"
    assert runtime_name("tflite int8", 1) == "tflite int8 (1 thread)" and runtime_name("tflite int8", 2).endswith("(2 threads)")


def test_from_255_takes_zero_one_images():
    import keras

    from signbench.studies.pareto import from_255

    inputs = keras.Input((4, 4, 1))
    inner = keras.Model(inputs, keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs)))
    x = np.random.default_rng(0).random((2, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(from_255(inner).predict(x, verbose=0), x.reshape(2, -1), rtol=1e-5)


# -- end to end --------------------------------------------------------------------------------------
def test_pareto_command_end_to_end(tmp_path, monkeypatch, capsys):
    """Four registry entries (1 epoch, a tiny cnn_plus and the two speedrun rungs' models), every runtime, the
    three files; the speedrun entries train the rungs the speedrun module names."""
    import signbench.studies.sota as sota
    import signbench.studies.speedrun as speedrun
    from signbench.cli import main
    from signbench.testing.contracts import check_png
    from signbench.testing.fixtures import make_images, write_sign_csv

    write_sign_csv(tmp_path / "sign_mnist_train.csv.gz", *make_images(24 * 4, 0))
    write_sign_csv(tmp_path / "sign_mnist_test.csv.gz", *make_images(24 * 3, 1))
    monkeypatch.setattr(sota, "BASE_RECIPE", sota.Recipe(filters=(4,), dense=8))
    tiny = [dataclasses.replace(speedrun.RECIPE, name="S", filters=(4, 8)),
            dataclasses.replace(speedrun.RECIPE, name="T", filters=(2, 4, 8), fused_augment=True)]
    monkeypatch.setattr(speedrun, "RUNGS", tuple(tiny))
    monkeypatch.setattr(speedrun, "SPEED_RUNG", "S")
    monkeypatch.setattr(speedrun, "DEPLOYABLE_RUNG", "T")
    out = tmp_path / "out"
    models = ("baseline", "cnn_plus", "speedrun", "deployable")
    assert main(["pareto", "--out", str(out), "--data-dir", str(tmp_path), "--epochs", "1", "--rounds", "25",
                 "--warmup", "2", "--seed", "3", "--models", ",".join(models)]) == 0
    assert "front:" in capsys.readouterr().out

    rows = list(csv.DictReader((out / "pareto.csv").read_text().splitlines()))
    required = {"model", "runtime", "params", "size_bytes", "test_accuracy", "p50_us", "p99_us", "on_front",
                "deployable", "seed", "git_commit", "tensorflow", "keras", "backend", "device", "cpu_flags",
                "threads"}
    assert required <= set(rows[0])
    counts = list(range(1, available_cores() + 1))  # every TFLite runtime at every interpreter thread count
    runtimes = [*KERAS_RUNTIMES, *(runtime_name(rt, t) for rt in RUNTIMES[len(KERAS_RUNTIMES):] for t in counts)]
    assert [(r["model"], r["runtime"]) for r in rows] == [(m, rt) for m in models for rt in runtimes]
    assert [r["interpreter_threads"] for r in rows[:len(runtimes)]] == ["", ""] + [str(t) for t in counts] * 4
    for r in rows:
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0
        assert 0.0 < float(r["p50_us"]) <= float(r["p99_us"])
        assert int(r["params"]) > 0 and int(r["size_bytes"]) > 0
        assert r["seed"] == "3" and r["rounds"] == "25" and r["epochs"] == "1" and r["data"] == "real"
    points = [(float(r["test_accuracy"]), float(r["p50_us"])) for r in rows]
    assert [r["on_front"] == "yes" for r in rows] == front(points) and any(r["on_front"] for r in rows)
    int8 = [r for r in rows if r["model"] == "deployable" and r["runtime"].startswith("tflite int8 (")]
    fastest = min(int8, key=lambda r: float(r["p50_us"]))  # the deployable mark: its fastest thread count
    assert [(r["model"], r["runtime"]) for r in rows if r["deployable"]] == [("deployable", fastest["runtime"])]
    params = {r["model"]: int(r["params"]) for r in rows}
    assert params["speedrun"] != params["deployable"]  # each entry trained its own rung
    size = {(r["model"], r["runtime"]): int(r["size_bytes"]) for r in rows}
    one = runtime_name("tflite int8", 1), runtime_name("tflite float16", 1), runtime_name("tflite float32", 1)
    assert size[("baseline", one[0])] < size[("baseline", one[1])] < size[("baseline", one[2])]
    assert size[("baseline", "keras")] == int(rows[0]["params"]) * 4  # float32 weights, no batch norm

    md = (out / "pareto.md").read_text()
    assert f"deployable model, at its fastest thread count: deployable ({fastest['runtime']})." in md
    assert "**p50**" in md and "Smoke run" in md and "Produced by: `signbench " in md
    for r in rows:
        if r["on_front"]:
            assert f"{r['model']} ({r['runtime']})" in md
    check_png(out / "pareto.png")


def test_pareto_command_refuses_unknown_models_before_loading_data(tmp_path, capsys):
    from signbench.cli import main

    assert main(["pareto", "--out", str(tmp_path), "--data-dir", str(tmp_path / "absent"), "--models", "cnn,nope"]) == 2
    assert "nope" in capsys.readouterr().err
