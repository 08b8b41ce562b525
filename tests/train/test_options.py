"""fit's options: each speed option changes only how fast training runs, not what it computes; the
schedule, early stopping and augmentation options do what they say."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from signbench.data.pipeline import make_dataset
from signbench.testing.fixtures import square_images as _easy
from signbench.train.fit import TrainInput, fit
from signbench.train.options import FAST, EarlyStop, FitOptions, Schedule, scaled_lr
from signbench.train.tf_speed import configure_threads, onednn_enabled, onednn_env, thread_settings


def test_scaled_lr():
    assert scaled_lr(1e-3, 512, "linear") == pytest.approx(4e-3)
    assert scaled_lr(1e-3, 512, "sqrt") == pytest.approx(2e-3)
    assert scaled_lr(1e-3, 512, "none") == pytest.approx(1e-3)
    assert scaled_lr(1e-3, 128, "linear") == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        scaled_lr(1e-3, 512, "cubic")


@pytest.mark.parametrize(
    "kwargs", [{"pipeline": "lmdb"}, {"lr_scaling": "log"}, {"precision": "float16"}, {"conv": "winograd"},
               {"onednn": "yes"}, {"optimizer": "sgd"}, {"steps_per_execution": 0}, {"intra_threads": 0},
               {"inter_threads": 1.5}, {"inter_threads": True}, {"jit_compile": True}]
)
def test_options_reject_unknown_values(kwargs):
    with pytest.raises(ValueError):
        FitOptions(**kwargs)


def test_labels_and_the_recommended_options():
    assert FitOptions().label() == "plain fit"
    assert FAST.label() == "uint8 tf.data + fused conv+pool + oneDNN + fused Adam + 16 steps/call"
    assert FitOptions(intra_threads=2).label() == "2 intra-op threads"
    assert (FAST.lr_scaling, FAST.precision, FAST.jit_compile, FAST.deterministic) == ("none", "float32", False, True), \
        "the recommended options must keep the course's learning rate and float32 maths"
    assert FitOptions(conv="fused", schedule=Schedule()).model_side() == ["conv"]


def test_uint8_dataset_normalizes_on_the_fly_and_covers_each_sample_once():
    x, y = _easy(100)
    ds = make_dataset((x, y), batch_size=32, seed=0)
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
    again = np.concatenate([np.asarray(b) for _, b in make_dataset((x, y), batch_size=32, seed=0)])
    np.testing.assert_array_equal(again, yb)  # the seed fixes the order
    with pytest.raises(TypeError):
        make_dataset((x.astype(np.float32), y), batch_size=32, seed=0)


def test_model_side_options_are_applied():
    x, y = _easy(64)
    all_on = FitOptions(pipeline="uint8", lr_scaling="linear", jit_compile=True, precision="mixed_bfloat16",
                        deterministic=False)
    m = fit("cnn", (x, y), seed=0, epochs=1, batch_size=512, options=all_on).model
    assert m.jit_compile is True
    assert float(m.optimizer.learning_rate) == pytest.approx(4e-3)
    assert m.get_layer("output").dtype_policy.name == "float32"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in m.layers[:-1])
    assert keras.config.dtype_policy().name == "float32", "global policy must be restored"
    p = fit("cnn", (x, y), seed=0, epochs=1).model
    assert p.jit_compile is False and all(layer.dtype_policy.name == "float32" for layer in p.layers)
    inp = TrainInput.of((x, y))
    assert inp.fit_kwargs(128, all_on, 0)["shuffle"] is False
    plain = inp.fit_kwargs(128, FitOptions(), 0)
    assert isinstance(plain["x"], np.ndarray) and plain["x"].dtype == np.float32


def test_model_side_options_need_a_model_name():
    x, y = _easy(32)
    with pytest.raises(TypeError, match="need a course model name"):
        fit(keras.Sequential([keras.Input((28, 28, 1))]), (x, y), seed=0, epochs=1, options=FitOptions(conv="fused"))


@pytest.mark.parametrize("options", [
    FitOptions(),
    FitOptions(pipeline="uint8", jit_compile=True, deterministic=False),
    FitOptions(pipeline="uint8", lr_scaling="linear", jit_compile=True, precision="mixed_bfloat16", deterministic=False),
    FitOptions(conv="fused"),
], ids=["plain", "uint8+xla", "all", "fused"])
def test_every_option_set_learns_an_easy_task(options):
    x, y = _easy(512)
    xt, yt = _easy(128, seed=1)
    batch = 512 if options.lr_scaling == "linear" else 128
    run = fit("cnn", (x, y), seed=0, epochs=2, batch_size=batch, options=options, test=(xt, yt))
    assert run.samples_per_s > 0 and math.isfinite(run.wall_time_s)
    assert run.test_accuracy >= 0.95, run


def test_fused_adam_and_steps_per_execution_are_applied_and_learn():
    from signbench.train.tf_speed import FusedAdam

    x, y = _easy(512)
    xt, yt = _easy(128, seed=1)
    options = FitOptions(conv="fused", optimizer="fused", steps_per_execution=4)
    run = fit("cnn", (x, y), seed=0, epochs=2, options=options, test=(xt, yt))
    m = run.model
    assert isinstance(m.optimizer, FusedAdam) and m.steps_per_execution == 4
    assert float(m.optimizer.learning_rate) == pytest.approx(1e-3)
    assert run.test_accuracy >= 0.95, run
    assert m.optimizer.iterations.numpy() == 2 * 4, "512 samples / batch 128 = 4 steps per epoch"
    p = fit("cnn", (x, y), seed=0, epochs=1).model
    assert type(p.optimizer) is keras.optimizers.Adam and p.steps_per_execution == 1


def test_steps_per_execution_keeps_the_same_training():
    x, y = _easy(384)
    a = fit("baseline", (x, y), seed=3, epochs=2).model.get_weights()
    b = fit("baseline", (x, y), seed=3, epochs=2, options=FitOptions(steps_per_execution=3)).model.get_weights()
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)


def test_recommended_kernels_follow_the_plain_trajectory():
    """The recommended options' model-side changes (fused conv+pool, fused Adam, steps per call) train
    the same way as plain fit: same losses epoch by epoch and the same weights, to float32 rounding."""
    same_process = FitOptions(conv=FAST.conv, optimizer=FAST.optimizer, steps_per_execution=4)
    assert same_process.conv == "fused" and same_process.optimizer == "fused"
    x, y = _easy(512)
    runs = [fit("cnn", (x, y), seed=4, epochs=3, options=o) for o in (FitOptions(), same_process)]
    losses = [r.history["loss"] for r in runs]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-3)
    assert losses[0][-1] < 0.5 * losses[0][0], "the runs must actually train"
    # Adam moves every weight by up to lr = 1e-3 per step, 12 steps here: weights whose gradients are
    # ~0 can swing by a step on rounding alone, so allow one step anywhere and require near-equality
    # almost everywhere (two independent initializations differ by ~0.05 everywhere).
    for u, v in zip(runs[0].model.get_weights(), runs[1].model.get_weights(), strict=True):
        np.testing.assert_allclose(v, u, atol=1e-3)
        assert np.mean(np.abs(v - u) > 1e-5) < 0.01


def test_uint8_pipeline_rejects_float_images():
    x, y = _easy(32)
    with pytest.raises(TypeError, match="uint8"):
        fit("cnn", (x.astype(np.float32), y), seed=0, epochs=1, options=FitOptions(pipeline="uint8"))


def test_fused_conv_option_swaps_only_the_cnn_block():
    from signbench.models.fused import ConvReluPool2D

    x, y = _easy(32)
    m = fit("cnn", (x, y), seed=0, epochs=1, options=FitOptions(conv="fused")).model
    assert isinstance(m.layers[0], ConvReluPool2D)
    assert m.count_params() == fit("cnn", (x, y), seed=0, epochs=1).model.count_params()
    b = fit("baseline", (x, y), seed=0, epochs=1, options=FitOptions(conv="fused")).model
    assert not any(isinstance(layer, ConvReluPool2D) for layer in b.layers)


def test_onednn_is_a_process_setting():
    x, y = _easy(32)
    other = not onednn_enabled()
    with pytest.raises(RuntimeError, match="TF_ENABLE_ONEDNN_OPTS"):
        fit("cnn", (x, y), seed=0, epochs=1, options=FitOptions(onednn=other))
    fit("cnn", (x, y), seed=0, epochs=1, options=FitOptions(onednn=onednn_enabled()))  # matching: fine
    assert onednn_env(True, {"A": "1"}) == {"A": "1", "TF_ENABLE_ONEDNN_OPTS": "1"}
    assert onednn_env(False, {})["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert onednn_env(None, {"TF_ENABLE_ONEDNN_OPTS": "1", "B": "2"}) == {"B": "2"}


def test_threads_are_a_process_setting():
    import tensorflow as tf

    x, y = _easy(32)
    _ = (tf.constant(1.0) + 1.0).numpy()  # TensorFlow has run an op: its thread pools are fixed now
    intra, inter = thread_settings()
    with pytest.raises(RuntimeError, match="process start"):
        fit("cnn", (x, y), seed=0, epochs=1, options=FitOptions(inter_threads=(inter or 2) + 1))
    assert thread_settings() == (intra, inter)  # unchanged
    with pytest.raises(RuntimeError, match="process start"):
        configure_threads(intra=(intra or 2) + 1)


def test_epochs_are_timed_inside_the_fit_call():
    x, y = _easy(128)
    run = fit("cnn", (x, y), seed=0, epochs=2)
    assert len(run.epoch_seconds) == 2 and 0 < sum(run.epoch_seconds) <= run.wall_time_s
    assert run.epoch_samples_per_s == pytest.approx(2 * 128 / sum(run.epoch_seconds))


def test_continuing_on_a_prepared_input_reuses_its_pipeline():
    x, y = _easy(128)
    inp = TrainInput.of((x, y))
    first = fit("cnn", inp, seed=0, epochs=1, options=FitOptions(pipeline="uint8"))
    dataset = inp.fit_kwargs(128, FitOptions(pipeline="uint8"), 0)["x"]
    more = fit(first.model, inp, seed=None, epochs=1, options=FitOptions(pipeline="uint8"))
    assert inp.fit_kwargs(128, FitOptions(pipeline="uint8"), 0)["x"] is dataset
    assert more.model is first.model and more.seed is None
    assert first.model.optimizer.iterations.numpy() == 2  # one epoch of one step each


def test_schedule_sets_warmup_then_cosine_decay():
    sched = Schedule(learning_rate=2e-3, warmup_epochs=1, min_lr_fraction=0.01).make(steps_per_epoch=10, epochs=5)
    lrs = [float(sched(s)) for s in (0, 10, 49)]
    assert lrs[0] == pytest.approx(2e-4) and lrs[1] == pytest.approx(2e-3, rel=1e-3)
    assert lrs[2] < 2e-3 * 0.05
    x, y = _easy(256)
    run = fit("baseline", (x, y), seed=0, epochs=2, options=FitOptions(schedule=Schedule()))
    assert isinstance(run.model.optimizer.learning_rate, keras.Variable) or run.model.optimizer.iterations > 0


def test_early_stop_restores_the_best_epoch():
    x, y = _easy(256)
    xv, yv = _easy(64, seed=2)
    run = fit("baseline", (x, y), seed=0, epochs=6, validation=(xv, yv),
              options=FitOptions(early_stop=EarlyStop("val_loss", patience=1)))
    assert 1 <= run.restored_epoch <= run.epochs_run
    assert run.history["val_loss"][run.restored_epoch - 1] == min(run.history["val_loss"])


def test_augment_option_wraps_the_model_and_still_learns():
    x, y = _easy(512)
    xt, yt = _easy(128, seed=1)
    run = fit("cnn", (x, y), seed=0, epochs=3, options=FitOptions(augment=True), test=(xt, yt))
    assert run.model.name == "cnn_augmented" and run.options == "augmentation"
    assert run.test_accuracy >= 0.9, run
