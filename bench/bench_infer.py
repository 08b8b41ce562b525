"""Inference latency per model x runtime x batch size, and the Predictor's overhead over ``invoke``.

Runtimes: Keras ``predict``, direct call, a compiled call (``tf.function`` on the TensorFlow backend,
``jax.jit`` of ``model.stateless_call`` on the JAX backend), TFLite float32 / float16 / dynamic-range /
int8 through the LiteRT interpreter (input quantization and output dequantization included), and
the Edge TPU when its compiler and delegate are present (else a skipped row with the reason).
Batch sizes 1, 32 and 256 (the transfer head, InceptionV3 to mixed7 at 150x150, at batch 1 and 32
only, to keep a full run near 10 minutes). Each round is one call on one batch; the number of
rounds is chosen so the timed part takes about ``--bench-budget`` seconds, clamped to
[200, 5000] (so p99 rests on at least 2 rounds above it; rows carry the count), [30, 200] for
the transfer head. Models are trained briefly first (smoke mode: a few steps) and every benchmark
checks after timing that the runtime predicts the same letters as the Keras model on images the
Keras model classifies correctly and confidently. Without the real CSVs, the models train, calibrate and
are checked on the synthetic stand-in (``sign_data``: seeded images of the real shapes, the transfer
head's input resized from them as from real images); latency does not depend on the pixel values.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from signbench.testing.bench import build_model, model_inputs, transfer_available

MODELS = ["baseline", "regularized", "cnn", "transfer"]
#: The Keras backend of this run (signbench.testing sets the default before collection).
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
#: The compiled direct call of each backend (torch: none).
COMPILED = {"tensorflow": ["tf-function"], "jax": ["jax-jit"]}.get(BACKEND, [])
RUNTIMES = [
    "keras-predict", "keras-call", *COMPILED,
    "tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "edgetpu",
]

BATCHES = [1, 32, 256]
#: Fraction of the batch whose letter must match Keras's (quantized runtimes may flip a borderline one).
AGREEMENT = {"tflite-int8": 0.97, "tflite-dynamic": 0.97, "tflite-float16": 0.99, "edgetpu": 0.97}
SMOKE_AGREEMENT = 0.9
#: The transfer model's backbone is InceptionV3 with *random* weights (no ImageNet file can be had
#: offline), so even its most confident check images have small margins and int8 quantization
#: through ten random Inception blocks flips many of them: 0.75 of the 32 check images agree in the
#: committed CPU run (results/cpu.md; a one-off probe, not committed, saw 0.63, a 32nd-best margin
#: of 0.015, and 0.55 over 256 test images; chance is 1/24). The floor still catches a broken
#: conversion: before the BatchNorm statistics were re-estimated, every int8 output collapsed to one
#: class and 0 of 32 agreed (the committed run of 2026-11-26).
TRANSFER_QUANTIZED_AGREEMENT = 0.5


def _needs_tensorflow(runtime: str) -> None:
    """TFLite and the Edge TPU start from a TensorFlow trace of the Keras model: skip elsewhere."""
    if BACKEND != "tensorflow":
        pytest.skip(
            f"{runtime}: TFLite conversion traces the Keras model with TensorFlow, and this run uses the "
            f"{BACKEND} backend (run the TensorFlow backend, e.g. `nox -s bench-cpu`, for these rows)"
        )


class Deployed:
    """One briefly-trained model, its check images, and its TFLite conversions (made on demand)."""

    def __init__(self, name, cfg, train, test):
        import keras

        from signbench.deploy import representative_sample
        from signbench.seeds import derive

        self.name, self.cfg = name, cfg
        self.model = build_model(name, train.num_classes, seed=cfg.seed, smoke=cfg.smoke)
        # Calibration for int8: a seeded sample of the training images.
        cal = representative_sample(train.images, 64 if cfg.smoke else 256, seed=derive(cfg.seed, "calibration"))
        self.calibration = model_inputs(name, (cal * 255).round().astype(np.uint8), smoke=cfg.smoke)
        if name == "transfer":
            # Random-init InceptionV3 keeps its BatchNorm layers' initial statistics (mean 0, var 1),
            # so activations vanish by mixed7 (mean |x| ~ 1e-3 in a one-off probe), the head sees
            # nothing, and every prediction is near-uniform. Re-estimate them on the calibration
            # images, as a pretrained network's would be (the probe: mixed7 mean |x| ~ 0.4 after).
            from signbench.models.backbones import reestimate_bn_statistics

            reestimate_bn_statistics(self.model, self.calibration, batch_size=64)
        n_fit = {"transfer": 64 if cfg.smoke else 1024}.get(name, len(train))
        rng = np.random.default_rng(derive(cfg.seed, f"fit/{name}"))
        idx = np.sort(rng.choice(len(train), size=min(n_fit, len(train)), replace=False))
        keras.utils.set_random_seed(derive(cfg.seed, f"fit/{name}"))
        x_fit = model_inputs(name, train.images[idx], smoke=cfg.smoke)
        # The course CNN (with its dropout tail since c916800) needs more than the 16 steps of one smoke epoch
        # on 2,048 images for check images with a margin; a full run's one epoch on all images is plenty.
        epochs = {"cnn": 3 if cfg.smoke else 1, "transfer": 3}.get(name, 3)
        self.model.fit(x_fit, train.labels[idx], batch_size=128 if name != "transfer" else 32,
                       epochs=epochs, verbose=0)
        # Check images: test images the Keras model gets right with a margin (else the most confident).
        n_check = 256 if name != "transfer" else 32
        pool = test.subset(np.arange(min(len(test), 2048 if name != "transfer" else 256)))
        x_pool = model_inputs(name, pool.images, smoke=cfg.smoke)
        probs = np.asarray(self.model.predict(x_pool, verbose=0, batch_size=256))
        top2 = np.sort(probs, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        correct = probs.argmax(1) == pool.labels
        order = np.lexsort((-margin, ~correct))  # correct first, then by margin
        order = order[:n_check]
        self.x = x_pool[order]
        self.images = pool.images[order]
        self.labels = pool.labels[order]
        self.ref = probs[order].argmax(1)
        self._flat: dict[str, bytes] = {}

    def tflite(self, mode: str) -> bytes:
        from signbench.deploy import convert

        if mode not in self._flat:
            self._flat[mode] = convert(self.model, mode, representative=self.calibration)
        return self._flat[mode]

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        reps = -(-n // len(self.x))
        x = np.concatenate([self.x] * reps)[:n]
        ref = np.concatenate([self.ref] * reps)[:n]
        return x, ref


@pytest.fixture(scope="module")
def deployed(bench_cfg, sign_data):
    cache: dict[str, Deployed] = {}

    def get(name: str) -> Deployed:
        if name == "transfer" and (why := transfer_available()):
            pytest.skip(why)
        if name not in cache:
            cache[name] = Deployed(name, bench_cfg, *sign_data)
        return cache[name]

    return get


def _runner(d: Deployed, runtime: str, x: np.ndarray, threads: int):
    """A no-argument callable running one batch, returning class probabilities (N x C)."""
    model = d.model
    if runtime == "keras-predict":
        return lambda: model.predict(x, verbose=0, batch_size=len(x))
    if runtime == "keras-call":
        import keras

        xt = keras.ops.convert_to_tensor(x)
        return lambda: keras.ops.convert_to_numpy(model(xt, training=False))
    if runtime == "tf-function":
        import tensorflow as tf

        fn = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
        xt = tf.constant(x)
        return lambda: fn(xt).numpy()
    if runtime == "jax-jit":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        fn = jax.jit(lambda tv, ntv, t: model.stateless_call(tv, ntv, t, training=False)[0])
        xt = jax.device_put(x)
        return lambda: np.asarray(fn(trainable, non_trainable, xt))
    if runtime.startswith("tflite-"):
        from signbench.deploy import LiteModel

        lite = LiteModel(d.tflite(runtime.removeprefix("tflite-")), num_threads=threads)
        lite.resize(len(x))
        return lambda: lite.run(x)
    raise ValueError(runtime)


def _edgetpu(d: Deployed, tmp_path):
    """(runner factory) when the Edge TPU compiler and delegate are both here, else pytest.skip(why)."""
    from signbench.deploy import save
    from signbench.deploy.convert import convert
    from signbench.deploy.edgetpu import compile_model, load_delegate, readiness

    flat = convert(d.model, "int8", representative=d.calibration, batch_size=1)
    ready = readiness(flat)
    compiled = compile_model(save(flat, tmp_path / f"{d.name}_int8.tflite"), tmp_path)
    delegate, why_not = load_delegate()
    reasons = [r for r in (compiled.skipped_reason, why_not) if r]
    if reasons:
        pytest.skip("; ".join(reasons) + f"; readiness of the int8 batch-1 model: {ready}")
    from signbench.deploy import LiteModel

    return LiteModel(compiled.path, delegates=[delegate])


def _cases():
    for model in MODELS:
        for runtime in RUNTIMES:
            for batch in BATCHES:
                if runtime == "edgetpu" and batch != 1:
                    continue  # the Edge TPU needs fixed shapes: batch 1 only
                if model == "transfer" and batch > 32:
                    continue  # InceptionV3 to mixed7 at 150x150: batch 1 and 32 keep the run near 10 min
                yield pytest.param(model, runtime, batch, id=f"{model}-{runtime}-{batch}")


@pytest.mark.parametrize(("model_name", "runtime", "batch_size"), list(_cases()))
def bench_infer(benchmark, bench_cfg, deployed, tmp_path, model_name, runtime, batch_size):
    if runtime.startswith("tflite") or runtime == "edgetpu":
        _needs_tensorflow(runtime)
    d = deployed(model_name)
    x, ref = d.batch(batch_size)
    threads = bench_cfg.threads_for(batch_size)
    if runtime == "edgetpu":
        lite = _edgetpu(d, tmp_path)
        fn = lambda: lite.run(x)  # noqa: E731
    else:
        fn = _runner(d, runtime, x, threads)
    slow = model_name == "transfer"
    rounds = bench_cfg.rounds(fn, min_rounds=30 if slow else 200, max_rounds=200 if slow else 5000)
    benchmark.extra_info.update(
        model=model_name, runtime=runtime, batch_size=batch_size, metric="latency", unit="us" if
        batch_size == 1 and runtime.startswith("tflite") else "ms", items_per_round=batch_size, items="images",
        threads=threads if runtime.startswith(("tflite", "edgetpu")) else None, seed=bench_cfg.seed,
    )
    probs = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0 if bench_cfg.smoke else 5)
    if runtime.startswith("tflite-") and batch_size < len(d.x):
        # One image says little about a quantized model: check it on the whole check set.
        probs, ref = _runner(d, runtime, d.x, threads)(), d.ref
    pred = np.asarray(probs).argmax(-1)
    agreement = float((pred == ref).mean())
    benchmark.extra_info["metrics"] = {
        "agreement with keras": [agreement, "fraction"], "check images": [len(ref), "images"],
    }
    need = AGREEMENT.get(runtime, 1.0)
    if bench_cfg.smoke and need < 1.0:
        need = SMOKE_AGREEMENT  # a model trained on 2,048 images has small margins: quantization flips more
    if model_name == "transfer" and need < 1.0:
        need = TRANSFER_QUANTIZED_AGREEMENT
    assert agreement >= need, (runtime, agreement)


@pytest.mark.parametrize("mode", ["int8", "float32"])
def bench_predictor(benchmark, bench_cfg, deployed, mode):
    """One-image ``Predictor.predict`` vs the raw interpreter ``invoke`` floor, same model, same run.

    The floor: ``invoke()`` alone on an input already in place (no input or output handling). Both
    are timed with ``perf_counter_ns`` in one interleaved loop (so load changes hit both alike), and
    the ratio of their p99s is reported; pytest-benchmark also times the predictor on its own.
    """
    from signbench.deploy import Predictor

    _needs_tensorflow(f"predictor-{mode}")
    d = deployed("cnn")
    predictor = Predictor(d.tflite(mode), num_threads=bench_cfg.threads_for(1))
    image = d.images[0]
    first = predictor.predict(image)
    n = 50 if bench_cfg.smoke else 20000
    floor = np.empty(n)
    full = np.empty(n)
    clock = time.perf_counter_ns
    for _ in range(min(n, 500)):  # warm-up
        predictor.invoke_only()
        predictor.predict(image)
    for i in range(n):
        t = clock()
        predictor.invoke_only()
        floor[i] = clock() - t
        t = clock()
        predictor.predict(image)
        full[i] = clock() - t
    p = {q: (np.percentile(floor, q) / 1e3, np.percentile(full, q) / 1e3) for q in (50, 99)}
    # What bounds invoke here: the model's weights are read once per image. A one-thread copy of as
    # many bytes as the flatbuffer holds, timed now, says what memory gives on this machine.
    src = np.ones(len(d.tflite(mode)), np.uint8)
    dst = np.empty_like(src)
    copies = np.empty(50 if bench_cfg.smoke else 500)
    for i in range(len(copies)):
        t = clock()
        np.copyto(dst, src)
        copies[i] = clock() - t
    rounds = 1 if bench_cfg.smoke else 5000
    benchmark.extra_info.update(
        model="cnn", runtime=f"predictor-{mode}", batch_size=1, metric="latency", unit="us",
        items_per_round=1, items="images", threads=bench_cfg.threads_for(1), seed=bench_cfg.seed,
    )
    result = benchmark.pedantic(predictor.predict, args=(image,), rounds=rounds, iterations=1)
    benchmark.extra_info["metrics"] = {
        "interleaved samples": [n, "pairs"],
        "invoke floor p50": [p[50][0], "us"],
        "invoke floor p99": [p[99][0], "us"],
        "predictor p50 (interleaved)": [p[50][1], "us"],
        "predictor p99 (interleaved)": [p[99][1], "us"],
        "p99 ratio predictor/invoke": [p[99][1] / p[99][0], "x"],
        "flatbuffer size": [len(src) / 1e6, "MB"],
        "copy of flatbuffer size p50 (1 thread)": [np.percentile(copies, 50) / 1e3, "us"],
    }
    assert result.letters == first.letters
    assert result.letters == predictor.class_names[int(d.ref[0])]
    np.testing.assert_allclose(result.probabilities.sum(), 1.0, atol=0.05)


def _cnn_parts(model):
    """The course CNN as two Keras models sharing its layers: up to the Flatten, and from it on."""
    import keras

    layers = list(model.layers)
    cut = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten))
    front = keras.Sequential([keras.Input(tuple(model.input_shape[1:])), *layers[:cut]], name="cnn_conv_pool")
    back = keras.Sequential([keras.Input(tuple(front.output_shape[1:])), *layers[cut:]], name="cnn_dense")
    return front, back


def bench_int8_parts(benchmark, bench_cfg, deployed):
    """Where the int8 course CNN's one-image ``invoke`` time goes, against the issue's 40 us goal.

    The briefly-trained course CNN is cut at its Flatten into its convolution block (Conv2D + ReLU +
    MaxPool) and its dense tail (all but 750 of its 3.28 M weights), each converted on its own (int8,
    calibrated on the same images; the conv block also in float32). The whole int8 model and the
    parts are invoked one after another in one loop (input already in place, as the Predictor's
    floor), so load changes hit them alike; pytest-benchmark times the whole model's ``invoke``.
    Checked after timing: the two int8 parts chained give the Keras model's letters on the check
    images as often as the int8 rows require.
    """
    from signbench.deploy import LiteModel, convert

    _needs_tensorflow("tflite-int8 parts")
    d = deployed("cnn")
    front, back = _cnn_parts(d.model)
    features = np.asarray(front.predict(d.calibration, verbose=0, batch_size=256))
    threads = bench_cfg.threads_for(1)
    flats = {
        "whole int8": d.tflite("int8"),
        "conv block int8": convert(front, "int8", representative=d.calibration),
        "dense tail int8": convert(back, "int8", representative=features),
        "conv block float32": convert(front, "float32"),
    }
    lites = {k: LiteModel(f, num_threads=threads) for k, f in flats.items()}
    for k, lite in lites.items():
        lite.run(features[:1] if k.startswith("dense") else d.x[:1])  # input in place, batch 1
    n = 50 if bench_cfg.smoke else 5000
    times = {k: np.empty(n) for k in lites}
    clock = time.perf_counter_ns
    for _ in range(10 if bench_cfg.smoke else 500):  # warm-up
        for lite in lites.values():
            lite.invoke()
    for i in range(n):
        for k, lite in lites.items():
            t = clock()
            lite.invoke()
            times[k][i] = clock() - t
    benchmark.extra_info.update(
        model="cnn", runtime="tflite-int8 invoke", batch_size=1, metric="latency", unit="us",
        items_per_round=1, items="images", threads=threads, seed=bench_cfg.seed,
    )
    whole = lites["whole int8"]
    benchmark.pedantic(whole.invoke, rounds=1 if bench_cfg.smoke else 5000, iterations=1)
    metrics = {"interleaved samples": [n, "rounds"]}
    for k, t in times.items():
        metrics[f"{k} p50 (interleaved)"] = [np.percentile(t, 50) / 1e3, "us"]
        metrics[f"{k} p99 (interleaved)"] = [np.percentile(t, 99) / 1e3, "us"]
        metrics[f"{k} flatbuffer size"] = [len(flats[k]) / 1e6, "MB"]
    parts = np.percentile(times["conv block int8"], 50) + np.percentile(times["dense tail int8"], 50)
    metrics["int8 parts p50 sum / whole p50"] = [parts / np.percentile(times["whole int8"], 50), "x"]
    benchmark.extra_info["metrics"] = metrics
    conv_block, dense_tail = lites["conv block int8"], lites["dense tail int8"]
    pred = dense_tail.run(conv_block.run(d.x)).argmax(-1)  # run() resizes to the batch
    agreement = float((pred == d.ref).mean())
    assert agreement >= (SMOKE_AGREEMENT if bench_cfg.smoke else AGREEMENT["tflite-int8"]), agreement
