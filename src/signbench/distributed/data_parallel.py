"""Data-parallel training through ``tf.distribute`` (TensorFlow-specific; the model is Keras-only).

- ``MirroredStrategy`` copies the model onto several devices of one process and splits every
  global batch between them; on a CPU-only machine :func:`logical_cpus` splits the CPU into
  logical devices so the same code path runs (and is tested) without a GPU.
- ``MultiWorkerMirroredStrategy`` does the same across processes (or hosts) described by
  ``TF_CONFIG``; :func:`launch_multiworker` starts N workers on 127.0.0.1 with ports chosen free at
  run time and reaps them, and :func:`tf_config` builds the variable for a multi-host run.

With the same global batch, the same data order and the same initial weights, the per-step update
is the mean gradient over the same examples however they are split, so a data-parallel run matches
a single-device run up to float32 summation order (the tests state the tolerance).

Every process runs ``python -m signbench.commands.worker data-parallel --strategy ... --out FILE.npz``
(:func:`run_process`), which trains a course model (``signbench.models.build``) on seeded synthetic
data or on the real Sign Language MNIST training CSV and saves the final weights, the per-epoch losses
and timings.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from signbench.distributed.procs import LOOPBACK, child_env, free_port, reap, start, tail

__all__ = [
    "STRATEGIES",
    "launch_multiworker",
    "load_result",
    "logical_cpus",
    "make_strategy",
    "run_process",
    "save_result",
    "synthetic_data",
    "tf_config",
    "train",
]

STRATEGIES = ("single", "mirrored", "multiworker")


def tf_config(hosts: list[str], index: int) -> str:
    """``TF_CONFIG`` for worker ``index`` of a cluster of ``host:port`` workers (index 0 is the chief)."""
    return json.dumps({"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": int(index)}})


def logical_cpus(n: int) -> list[str]:
    """Split the first physical CPU into ``n`` logical devices; must run before TF initializes."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(kind: str, devices: int = 2):
    """A ``tf.distribute`` strategy: "single" (default), "mirrored" over ``devices`` CPUs/GPUs,
    "multiworker" (from ``TF_CONFIG``)."""
    import tensorflow as tf

    if kind == "single":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        names = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))][:devices]
        if len(names) < devices:
            raise RuntimeError(f"MirroredStrategy wants {devices} devices, found {names}; call logical_cpus() first")
        # Reduce on the host: NCCL is GPU-only and the default picks it when it sees GPUs.
        return tf.distribute.MirroredStrategy(names, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise RuntimeError("MultiWorkerMirroredStrategy needs TF_CONFIG (see tf_config())")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {kind!r}; choose one of {STRATEGIES}")


def synthetic_data(seed: int, n: int = 64, size: int = 8, num_classes: int = 3):
    """Seeded images (n, size, size, 1) float32 in [0, 1] whose class brightens its own band of rows."""
    import numpy as np

    from signbench.seeds import rng

    g = rng(seed, "data_parallel/synthetic")
    y = (np.arange(n) % num_classes).astype("int64")
    g.shuffle(y)
    x = g.normal(0.3, 0.1, size=(n, size, size, 1))
    for c in range(num_classes):
        x[y == c, c * size // num_classes : (c + 1) * size // num_classes] += 0.5
    return np.clip(x, 0, 1).astype("float32"), y


def _initial_weights(model, seed: int):
    """Initial weights drawn with numpy from ``seed``: identical in every process and strategy."""
    import numpy as np

    from signbench.seeds import rng

    g = rng(seed, "data_parallel/init")
    out = []
    for w in model.get_weights():
        if w.ndim >= 2:
            fan_in = int(np.prod(w.shape[:-1]))
            out.append(g.normal(0.0, np.sqrt(1.0 / fan_in), size=w.shape).astype(w.dtype))
        else:
            out.append(np.zeros_like(w))
    return out


def train(strategy, x, y, *, model: str = "baseline", global_batch: int = 16, epochs: int = 2,
          learning_rate: float = 1e-3, seed: int = 0) -> dict:
    """Train ``model`` under ``strategy`` on (x, y) in a fixed order; return weights, losses, time.

    The dataset is batched with the *global* batch; the strategy splits each batch between its
    replicas (between workers by element: ``AutoShardPolicy.DATA``), so every step sees the same
    examples as a single-device step. Each replica's loss is its examples' summed loss divided by
    the global batch, and the optimizer all-reduces (sums) the gradients: the mean over the batch.

    This is ``tf.distribute``'s custom-training-loop form (``strategy.run``) around a Keras 3 model
    and optimizer, used for every strategy alike: Keras 3's ``fit`` does not support
    ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), and one loop keeps the comparison fair.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from signbench.models import build

    num_classes = int(y.max()) + 1
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        net = build(model, num_classes, x.shape[1:], learning_rate=learning_rate)
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(net.trainable_variables)
    initial = _initial_weights(net, seed)
    net.set_weights(initial)
    if num_classes == 2:
        loss_fn = keras.losses.BinaryCrossentropy(reduction=None)
        y = y.astype("float32")[:, None]
    else:
        loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = strategy.experimental_distribute_dataset(ds.with_options(options))

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            per_example = loss_fn(yb, net(xb, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    losses = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        total, steps = 0.0, 0
        for batch in ds:
            total += float(step(batch))
            steps += 1
        losses.append(total / max(steps, 1))
    seconds = time.perf_counter() - t0
    return {
        "weights": [np.asarray(w) for w in net.get_weights()],
        "initial": initial,
        "loss": np.asarray(losses, dtype="float64"),
        "seconds": seconds,
        "replicas": int(strategy.num_replicas_in_sync),
        "samples": int(epochs * (len(x) // global_batch) * global_batch),
    }


def load_xy(data: str, *, seed: int, n: int | None, image_size: int = 8, num_classes: int = 3):
    """(x float32 in [0, 1], y): ``data`` "synthetic" (seeded, ``n`` images), "sign_mnist" (the real
    training CSV) or a CSV path; real data keeps its first ``n`` rows (all when None or 0)."""
    if data == "synthetic":
        return synthetic_data(seed, n=n, size=image_size, num_classes=num_classes)
    from signbench.data.load import load, load_sign_mnist

    ds = load_sign_mnist("train") if data == "sign_mnist" else load(data)
    n = n or len(ds.labels)
    return ds.images[:n].astype("float32") / 255.0, ds.labels[:n]


def save_result(path: Path, results: dict[str, dict]) -> None:
    import numpy as np

    arrays = {}
    meta = {}
    for name, r in results.items():
        for i, (w, w0) in enumerate(zip(r["weights"], r["initial"], strict=True)):
            arrays[f"{name}/w{i}"] = w
            arrays[f"{name}/init{i}"] = w0
        arrays[f"{name}/loss"] = r["loss"]
        meta[name] = {k: r[k] for k in ("seconds", "replicas", "samples")}
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_result(path: str | os.PathLike) -> dict[str, dict]:
    """Read a file written by :func:`save_result`: name -> {"weights", "loss", "seconds", ...}."""
    import numpy as np

    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        out = {}
        for name, m in meta.items():
            n = sum(1 for k in z.files if k.startswith(f"{name}/w"))
            out[name] = {
                "weights": [z[f"{name}/w{i}"] for i in range(n)],
                "initial": [z[f"{name}/init{i}"] for i in range(n)],
                "loss": z[f"{name}/loss"],
                **m,
            }
    return out


def launch_multiworker(n_workers: int, out_dir: str | os.PathLike, *, extra_args: list[str] = (),
                       timeout_s: float = 600, threads: int | None = 1, host: str = LOOPBACK) -> list[Path]:
    """Run ``n_workers`` MultiWorkerMirroredStrategy processes on ``host``; return their result files.

    Ports are chosen free at run time; every process is reaped on return, error or timeout.
    """
    out_dir = Path(out_dir)
    hosts = [f"{host}:{free_port(host)}" for _ in range(n_workers)]
    outs = [out_dir / f"multiworker_{i}.npz" for i in range(n_workers)]
    kids = []
    try:
        for i in range(n_workers):
            args = ["-m", "signbench.commands.worker", "data-parallel", "--strategy", "multiworker",
                    "--out", str(outs[i]), *extra_args]
            kids.append(start(f"worker{i}", args, child_env({"TF_CONFIG": tf_config(hosts, i)}, threads),
                              out_dir / f"multiworker_{i}.log"))
        deadline = time.monotonic() + timeout_s
        while any(k.poll() is None for k in kids):
            bad = [k for k in kids if k.poll() not in (None, 0)]
            if bad:
                raise RuntimeError(f"{bad[0].name} exited with {bad[0].poll()}:\n{tail(bad[0].log)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"multi-worker training not done after {timeout_s:.0f} s:\n{tail(kids[0].log)}")
            time.sleep(0.2)
        bad = [k for k in kids if k.poll() != 0]
        if bad:
            raise RuntimeError(f"{bad[0].name} exited with {bad[0].poll()}:\n{tail(bad[0].log)}")
    finally:
        reap(kids)
    return outs


def run_process(strategies: list[str], out: Path, *, devices: int = 2, model: str = "baseline",
                data: str = "synthetic", n: int | None = 64, image_size: int = 8, num_classes: int = 3,
                global_batch: int = 16, epochs: int = 2, learning_rate: float = 1e-3, seed: int = 0) -> Path:
    """This process's part: train under each of ``strategies`` in order and save the results to ``out``."""
    if "multiworker" in strategies and len(strategies) > 1:
        raise ValueError("multiworker runs alone in its process")
    if "mirrored" in strategies:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            logical_cpus(devices)
    x, y = load_xy(data, seed=seed, n=n, image_size=image_size, num_classes=num_classes)
    results = {}
    for kind in strategies:
        results[kind] = train(make_strategy(kind, devices), x, y, model=model, global_batch=global_batch,
                              epochs=epochs, learning_rate=learning_rate, seed=seed)
    save_result(out, results)
    return out
