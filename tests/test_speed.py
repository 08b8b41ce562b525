"""Training-speed options: each one changes only how fast training runs, not what it computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signbench.speed import (
    PRESETS,
    RECOMMENDED,
    SpeedOptions,
    configure_threads,
    fast_fit,
    make_dataset,
    onednn_enabled,
    onednn_env,
    prepare,
    scaled_lr,
    thread_settings,
)


def _easy(n: int = 256, seed: int = 0):
    """Two classes: bright square on the left or on the right (uint8 28x28x1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.integers(0, 30, size=(n, 28, 28, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        col = 4 if c == 0 else 16
        x[i, 10:18, col : col + 8, 0] = 230
    return x, y


def test_scaled_lr():
    assert scaled_lr(1e-3, 512, "linear") == pytest.approx(4e-3)
    assert scaled_lr(1e-3, 512, "sqrt") == pytest.approx(2e-3)
    assert scaled_lr(1e-3, 512, "none") == pytest.approx(1e-3)
    assert scaled_lr(1e-3, 128, "linear") == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        scaled_lr(1e-3, 512, "cubic")


@pytest.mark.parametrize(
    "kwargs", [{"pipeline": "lmdb"}, {"lr_scaling": "log"}, {"precision": "float16"}, {"batch_size": 0},
               {"conv": "winograd"}, {"onednn": "yes"}, {"optimizer": "sgd"}, {"steps_per_execution": 0},
               {"intra_threads": 0}, {"inter_threads": 1.5}, {"inter_threads": True}]
)
def test_options_reject_unknown_values(kwargs):
    with pytest.raises(ValueError):
        SpeedOptions(**kwargs)


def test_labels_and_recommended_preset():
    assert PRESETS["plain"].label() == "plain fit"
    assert PRESETS["all"].label() == "uint8 tf.data + batch 512 (linear LR) + XLA + bf16"
    assert PRESETS["fused+onednn+batch512"].label() == "batch 512 (linear LR) + fused conv+pool + oneDNN"
    assert PRESETS["fast"].label() == "uint8 tf.data + fused conv+pool + oneDNN + fused Adam + 16 steps/call"
    assert PRESETS["fast+inter1"].label() == PRESETS["fast"].label() + " + 1 inter-op thread"
    assert SpeedOptions(intra_threads=2).label() == "2 intra-op threads"
    assert RECOMMENDED in PRESETS
    rec = PRESETS[RECOMMENDED]
    assert (rec.batch_size, rec.lr_scaling, rec.precision, rec.jit_compile) == (128, "linear", "float32", False), \
        "the recommended preset must keep the course's batch, learning rate and float32 maths"


def test_uint8_dataset_normalizes_on_the_fly_and_covers_each_sample_once():
    x, y = _easy(100)
    ds = make_dataset(x, y, 32, seed=0)
    xs, ys = zip(*[(np.asarray(a), np.asarray(b)) for a, b in ds], strict=True)
    xb, yb = np.concatenate(xs), np.concatenate(ys)
    assert xb.dtype == np.float32 and xb.shape == (100, 28, 28, 1)
    assert [len(b) for b in ys] == [32, 32, 32, 4]
    # Same multiset of (image, label) pairs, each scaled by 1/255.
    np.testing.assert_allclose(xb * 255.0, np.round(xb * 255.0), atol=1e-3)
    got = sorted(np.round(xb[i] * 255).astype(np.uint8).tobytes() + bytes([int(yb[i])]) for i in range(100))
    want = sorted(x[i].tobytes() + bytes([int(y[i])]) for i in range(100))
    assert got == want
    second = np.concatenate([np.asarray(b) for _, b in ds])
    assert not np.array_equal(second, yb), "the pipeline should reshuffle each epoch"
    assert ds.options().autotune.enabled is False, "no autotuning thread to hold up the end of an epoch"
    again = np.concatenate([np.asarray(b) for _, b in make_dataset(x, y, 32, seed=0)])
    np.testing.assert_array_equal(again, yb)  # the seed fixes the order
    with pytest.raises(TypeError):
        make_dataset(x.astype(np.float32), y, 32, seed=0)


def test_prepare_applies_each_option():
    import keras

    x, y = _easy(64)
    m, kw = prepare("cnn", x, y, seed=0, options=PRESETS["all"], num_classes=2)
    assert m.jit_compile is True
    assert float(m.optimizer.learning_rate) == pytest.approx(4e-3)
    assert m.get_layer("output").dtype_policy.name == "float32"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in m.layers[:-1])
    assert keras.config.dtype_policy().name == "float32", "global policy must be restored"
    assert kw["shuffle"] is False and not isinstance(kw["x"], np.ndarray)
    p, pkw = prepare("cnn", x, y, seed=0, num_classes=2)
    assert p.jit_compile is False and isinstance(pkw["x"], np.ndarray) and pkw["x"].dtype == np.float32
    assert all(layer.dtype_policy.name == "float32" for layer in p.layers)


@pytest.mark.parametrize("preset", ["plain", "uint8+xla", "all", "fused"])
def test_every_preset_learns_an_easy_task(preset):
    x, y = _easy(512)
    xt, yt = _easy(128, seed=1)
    out = fast_fit("cnn", (x, y), seed=0, epochs=2, options=PRESETS[preset], test=(xt, yt))
    assert out["samples_per_s"] > 0 and math.isfinite(out["seconds"])
    assert out["test_accuracy"] >= 0.95, out


def test_fused_adam_and_steps_per_execution_are_applied_and_learn():
    from signbench.optimizers import FusedAdam

    x, y = _easy(512)
    xt, yt = _easy(128, seed=1)
    options = SpeedOptions(conv="fused", optimizer="fused", steps_per_execution=4)
    m, _ = prepare("cnn", x, y, seed=0, options=options, num_classes=2)
    assert isinstance(m.optimizer, FusedAdam) and m.steps_per_execution == 4
    assert float(m.optimizer.learning_rate) == pytest.approx(1e-3)
    p, _ = prepare("cnn", x, y, seed=0, num_classes=2)
    assert type(p.optimizer) is __import__("keras").optimizers.Adam and p.steps_per_execution == 1
    out = fast_fit("cnn", (x, y), seed=0, epochs=2, options=options, test=(xt, yt))
    assert out["test_accuracy"] >= 0.95, out
    assert out["model"].optimizer.iterations.numpy() == 2 * 4, "512 samples / batch 128 = 4 steps per epoch"


def test_steps_per_execution_keeps_the_same_training():
    x, y = _easy(384)
    a = fast_fit("baseline", (x, y), seed=3, epochs=2)["model"].get_weights()
    b = fast_fit("baseline", (x, y), seed=3, epochs=2, options=SpeedOptions(steps_per_execution=3))["model"].get_weights()
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)


def test_recommended_kernels_follow_the_plain_trajectory():
    """The recommended preset's model-side changes (fused conv+pool, fused Adam, steps per call) train
    the same way as plain fit: same losses epoch by epoch and the same weights, to float32 rounding."""
    rec = PRESETS[RECOMMENDED]
    same_process = SpeedOptions(conv=rec.conv, optimizer=rec.optimizer, steps_per_execution=4)
    assert same_process.conv == "fused" and same_process.optimizer == "fused"
    x, y = _easy(512)
    runs = [fast_fit("cnn", (x, y), seed=4, epochs=3, options=o) for o in (SpeedOptions(), same_process)]
    losses = [r["model"].history.history["loss"] for r in runs]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-3)
    assert losses[0][-1] < 0.5 * losses[0][0], "the runs must actually train"
    # Adam moves every weight by up to lr = 1e-3 per step, 12 steps here: weights whose gradients are
    # ~0 can swing by a step on rounding alone, so allow one step anywhere and require near-equality
    # almost everywhere (two independent initializations differ by ~0.05 everywhere).
    for u, v in zip(runs[0]["model"].get_weights(), runs[1]["model"].get_weights(), strict=True):
        np.testing.assert_allclose(v, u, atol=1e-3)
        assert np.mean(np.abs(v - u) > 1e-5) < 0.01


def test_fast_fit_rejects_float_images():
    x, y = _easy(32)
    with pytest.raises(TypeError):
        fast_fit("cnn", (x.astype(np.float32), y), seed=0, epochs=1)


def test_fused_conv_option_swaps_only_the_cnn_block():
    from signbench.models.fused import ConvReluPool2D

    x, y = _easy(32)
    m, _ = prepare("cnn", x, y, seed=0, options=SpeedOptions(conv="fused"), num_classes=2)
    assert isinstance(m.layers[0], ConvReluPool2D) and m.count_params() == prepare("cnn", x, y, seed=0, num_classes=2)[0].count_params()
    b, _ = prepare("baseline", x, y, seed=0, options=SpeedOptions(conv="fused"), num_classes=2)
    assert not any(isinstance(layer, ConvReluPool2D) for layer in b.layers)


def test_onednn_is_a_process_setting():
    x, y = _easy(32)
    other = not onednn_enabled()
    with pytest.raises(RuntimeError, match="TF_ENABLE_ONEDNN_OPTS"):
        prepare("cnn", x, y, seed=0, options=SpeedOptions(onednn=other), num_classes=2)
    prepare("cnn", x, y, seed=0, options=SpeedOptions(onednn=onednn_enabled()), num_classes=2)  # matching: fine
    assert onednn_env(SpeedOptions(onednn=True), {"A": "1"}) == {"A": "1", "TF_ENABLE_ONEDNN_OPTS": "1"}
    assert onednn_env(SpeedOptions(onednn=False), {})["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert onednn_env(SpeedOptions(), {"TF_ENABLE_ONEDNN_OPTS": "1", "B": "2"}) == {"B": "2"}


def test_threads_are_a_process_setting():
    import tensorflow as tf

    x, y = _easy(32)
    _ = (tf.constant(1.0) + 1.0).numpy()  # TensorFlow has run an op: its thread pools are fixed now
    intra, inter = thread_settings()
    with pytest.raises(RuntimeError, match="process start"):
        prepare("cnn", x, y, seed=0, options=SpeedOptions(inter_threads=(inter or 2) + 1), num_classes=2)
    assert thread_settings() == (intra, inter)  # unchanged
    with pytest.raises(RuntimeError, match="process start"):
        configure_threads(intra=(intra or 2) + 1)


def test_worker_applies_the_presets_thread_pools(tmp_path):
    from signbench.speed_worker import Worker

    x, y = _easy(64)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y, num_classes=np.asarray(2))
    with Worker(data, "fast+inter1", seed=0) as w:
        ready = w.ask("prepare cnn")
    assert (ready["intra_threads"], ready["inter_threads"]) == (None, 1)
    assert ready["onednn"] is True and ready["label"].endswith("1 inter-op thread")


def test_fast_fit_times_epochs_inside_the_fit_call():
    x, y = _easy(128)
    out = fast_fit("cnn", (x, y), seed=0, epochs=2)
    assert 0 < out["epoch_seconds"] <= out["seconds"]
    assert out["samples_per_s"] == pytest.approx(2 * 128 / out["epoch_seconds"])


def test_worker_runs_a_preset_in_its_own_process(tmp_path):
    from signbench.speed_worker import Worker

    x, y = _easy(256)
    xt, yt = _easy(64, seed=1)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y, num_classes=np.asarray(2), x_test=xt, y_test=yt)
    with Worker(data, "fused+onednn", seed=0) as w:
        ready = w.ask("prepare cnn")
        assert ready["onednn"] is True and ready["batch_size"] == 128 and ready["flops_per_sample"] > 1e6
        assert "fused conv+pool" in ready["label"]
        epoch = w.ask("epoch")
        assert 0 < epoch["epoch_seconds"] <= epoch["fit_seconds"] and math.isfinite(epoch["loss"])
        full = w.ask("full cnn 2")
        assert full["test_accuracy"] >= 0.95 and full["epoch_seconds"] <= full["seconds"]
        seeded = w.ask("full baseline 1 7")  # the optional SEED
        assert 0.0 <= seeded["test_accuracy"] <= 1.0 and seeded["epoch_seconds"] <= seeded["seconds"]
        with pytest.raises(RuntimeError, match="unknown command"):
            w.ask("dance")
    assert w.proc.returncode == 1
    with pytest.raises(KeyError):
        Worker(data, "no-such-preset")
