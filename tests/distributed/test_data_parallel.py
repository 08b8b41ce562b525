"""tf.distribute data parallelism matches a single-device run with the same global batch.

Three runs of the same training (course baseline model on 64 seeded synthetic 8x8 images, global
batch 16, 2 epochs = 8 Adam steps, same initial weights and data order): one device, MirroredStrategy
over two logical CPU devices (one process, which also runs the single-device reference), and a
two-worker MultiWorkerMirroredStrategy on 127.0.0.1. Each step averages the gradient over the same
16 examples however they are split, so the results agree up to float32 summation order.

Tolerance: final weights within ``atol=1e-5, rtol=1e-4`` (measured: ~2e-7), per-epoch losses within
``rtol=1e-5``; the weights move by far more than that during training (checked), so a wrong split
(each replica taking a full batch, or a replica missing) fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from signbench.distributed.data_parallel import launch_multiworker, load_result, tf_config

ATOL, RTOL = 1e-5, 1e-4
LOSS_RTOL = 1e-5
ARGS = ["--n", "64", "--image-size", "8", "--num-classes", "3", "--global-batch", "16", "--epochs", "2", "--seed", "0"]


def _assert_same_training(ref: dict, other: dict) -> None:
    assert len(ref["weights"]) == len(other["weights"])
    for i, (a, b) in enumerate(zip(ref["weights"], other["weights"], strict=True)):
        np.testing.assert_allclose(b, a, atol=ATOL, rtol=RTOL, err_msg=f"weight {i}")
    np.testing.assert_allclose(other["loss"], ref["loss"], rtol=LOSS_RTOL)


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """single-device and MirroredStrategy (2 logical CPUs) runs, in one subprocess (TF must not be
    initialized before the logical devices are configured, which pytest's process may already be)."""
    out = tmp_path_factory.mktemp("data_parallel") / "local.npz"
    cmd = [sys.executable, "-m", "signbench.commands.worker", "data-parallel", "--strategy", "single,mirrored",
           "--devices", "2", "--out", str(out), *ARGS]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # killed on timeout
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    runs = load_result(out)
    ref = runs["single"]
    assert ref["replicas"] == 1
    # Training moved the weights far beyond the comparison tolerance, and lowered the loss.
    moved = max(float(np.max(np.abs(w - w0))) for w, w0 in zip(ref["weights"], ref["initial"], strict=True))
    assert moved > 100 * ATOL
    assert ref["loss"][-1] < ref["loss"][0]
    return runs


def test_mirrored_over_two_logical_cpus_matches_single_device(local_runs):
    mirrored = local_runs["mirrored"]
    assert mirrored["replicas"] == 2
    assert mirrored["samples"] == local_runs["single"]["samples"] == 2 * 64
    _assert_same_training(local_runs["single"], mirrored)


def test_two_worker_multiworker_mirrored_on_loopback_matches_single_device(local_runs, tmp_path):
    outs = launch_multiworker(2, tmp_path, extra_args=ARGS, timeout_s=600, threads=1)
    for path in outs:
        run = load_result(path)["multiworker"]
        assert run["replicas"] == 2
        for a, b in zip(run["initial"], local_runs["single"]["initial"], strict=True):
            np.testing.assert_array_equal(a, b)
        _assert_same_training(local_runs["single"], run)


def test_tf_config_describes_the_cluster():
    hosts = ["127.0.0.1:2222", "127.0.0.1:2223"]
    cfg = json.loads(tf_config(hosts, 1))
    assert cfg == {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": 1}}
