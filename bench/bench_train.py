"""Training throughput per model (baseline, regularized, CNN, transfer head) on this device.

One round is one epoch of ``fit`` on float arrays of training images (8,192 images, batch 128;
the transfer head, InceptionV3 to mixed7 at 150x150 with the backbone frozen: 256 images, batch 32),
after one untimed batch that traces the train step. Steady-state samples/s come from per-batch
timestamps (a callback), excluding each epoch's first batch. Model FLOPs utilization: the benchmark
records the achieved FLOP/s, training FLOPs per sample (``signbench.studies.flops``) x steady-state
samples/s (``mfu_achieved``), and the tables divide it by the run's one float32 matmul peak (``mfu``; the
best of at least 5 samples over the run, one of them taken right before this benchmark's timing, its
spread in the ``matmul_peak`` row) and by the CPU's physical limit (``mfu_physical``; inputs and
assumptions in the ``physical_peak`` row); see ``signbench.testing.bench``. Checked after timing: the
training loss went down (the loss on the training images, in inference mode, is below the untrained
model's). Without the real CSVs the
images are the synthetic stand-in of the same shapes (``sign_data``); samples/s do not depend on them.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from signbench.testing.bench import build_model, model_inputs, transfer_available

MODELS = ["baseline", "regularized", "cnn", "transfer"]


class BatchClock:
    """Keras callback: perf_counter timestamps at each batch end, per epoch."""

    def __new__(cls):
        import keras

        class _Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs: list[list[float]] = []

                self.losses: list[float] = []

            def on_epoch_begin(self, epoch, logs=None):
                self.epochs.append([])

            def on_train_batch_end(self, batch, logs=None):
                self.epochs[-1].append(time.perf_counter())

            def on_epoch_end(self, epoch, logs=None):
                self.losses.append(float(logs["loss"]))

        return _Clock()


def _loss(model, x, y, batch: int) -> float:
    return float(model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)["loss"])


@pytest.mark.parametrize("model_name", MODELS)
def bench_train(benchmark, bench_cfg, sign_data, peak_meter, model_name):
    from signbench.seeds import derive
    from signbench.studies.flops import train_flops_per_sample

    if model_name == "transfer" and (why := transfer_available()):
        pytest.skip(why)
    train, _ = sign_data
    smoke = bench_cfg.smoke
    transfer = model_name == "transfer"
    if smoke:  # a few small steps: enough to see the loss fall, cheap enough for CI
        batch, n = (8, 32) if transfer else (32, 256)
    else:
        batch, n = (32, 256) if transfer else (128, 8192)
    idx = np.sort(np.random.default_rng(derive(bench_cfg.seed, f"train/{model_name}")).choice(
        len(train), size=min(n, len(train)), replace=False))
    x = model_inputs(model_name, train.images[idx], smoke=smoke)
    y = train.labels[idx]
    model = build_model(model_name, train.num_classes, seed=bench_cfg.seed, smoke=smoke)
    # The check's "before": the untrained model's loss on the training images; then trace the
    # train step on one batch (untimed).
    loss_before = _loss(model, x, y, batch)
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
    clock = BatchClock()

    def epoch():
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[clock])

    peak_meter.sample()  # one of the run's matmul peak samples, right before the timing
    benchmark.extra_info.update(
        model=model_name, runtime="keras-fit", batch_size=batch, metric="epoch time", unit="s",
        items_per_round=len(x), items="samples", seed=bench_cfg.seed,
    )
    benchmark.pedantic(epoch, rounds=1 if smoke else 3, iterations=1)
    steady = [(len(t) - 1) * batch / (t[-1] - t[0]) for t in clock.epochs if len(t) > 1]
    rate = float(np.median(steady)) if steady else float("nan")
    flops = train_flops_per_sample(model)
    benchmark.extra_info["metrics"] = {
        "steady-state throughput": [rate, "samples/s"],
        "train FLOPs per sample": [flops, "FLOP"],
    }
    benchmark.extra_info["achieved_flops"] = {"mfu": flops * rate}  # MFU rows: over the run's peaks
    # Training still works: the loss on the training images (inference mode) is below the untrained one.
    loss_after = _loss(model, x, y, batch)
    assert np.isfinite(loss_after) and loss_after < loss_before, (loss_before, loss_after)
