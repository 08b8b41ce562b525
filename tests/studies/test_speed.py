"""The speed study's candidates and its worker processes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signbench.studies import speed
from signbench.studies.speed import PRESETS, RECOMMENDED, Worker, WorkerPool, serve
from signbench.testing.fixtures import square_images as _easy
from signbench.train.options import FAST


def test_labels_and_recommended_preset():
    assert PRESETS["plain"].label() == "plain fit"
    assert PRESETS["all"].label() == "uint8 tf.data + batch 512 (linear LR) + XLA + bf16"
    assert PRESETS["fused+onednn+batch512"].label() == "batch 512 (linear LR) + fused conv+pool + oneDNN"
    assert PRESETS["fast"].label() == "uint8 tf.data + fused conv+pool + oneDNN + fused Adam + 16 steps/call"
    assert PRESETS["fast+inter1"].label() == PRESETS["fast"].label() + " + 1 inter-op thread"
    assert RECOMMENDED in PRESETS
    rec = PRESETS[RECOMMENDED]
    assert rec.batch_size == 128 and rec.options.label() == FAST.label()
    assert all(not c.options.deterministic for c in PRESETS.values()), "every candidate is measured alike"


def test_worker_runs_a_preset_in_its_own_process(tmp_path):
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
        assert ready["rows"] == 256 and w.ask("prepare cnn 128")["rows"] == 128  # the optional ROWS
        full = w.ask("full cnn 2")
        assert full["test_accuracy"] >= 0.95 and full["epoch_seconds"] <= full["seconds"]
        seeded = w.ask("full baseline 1 7")  # the optional SEED
        assert 0.0 <= seeded["test_accuracy"] <= 1.0 and seeded["epoch_seconds"] <= seeded["seconds"]
        with pytest.raises(RuntimeError, match="unknown command"):
            w.ask("dance")
    assert w.proc.returncode == 1
    with pytest.raises(KeyError):
        Worker(data, "no-such-preset")


def test_use_switches_only_between_presets_that_need_the_same_process(tmp_path):
    x, y = _easy(16)
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y, num_classes=np.asarray(2))
    answers = []
    assert serve(data, "uint8", 0, ["use xla", "use bf16", "use onednn", "use xla"], answers.append) == 1
    assert answers[:2] == [{"preset": "xla"}, {"preset": "bf16"}]
    assert "cannot share" in answers[2]["error"] and len(answers) == 3  # oneDNN is fixed at import: refused
    answers.clear()
    assert serve(data, "fast", 0, ["use fast+intra1"], answers.append) == 1  # thread pools too
    assert "cannot share" in answers[0]["error"]
    answers.clear()
    assert serve(data, "fast", 0, ["use fast+batch512", "epoch"], answers.append) == 1
    assert answers[0] == {"preset": "fast+batch512"} and "'epoch' before 'prepare'" in answers[1]["error"]
    assert speed.process_settings("fast") == (True, None, None)
    assert speed.process_settings("fast+inter1") == (True, None, 1)
    assert speed.process_settings("plain") == speed.process_settings("all") == (None, None, None)


def test_a_pool_starts_one_worker_per_role_and_process_setting(tmp_path, monkeypatch):
    started = []

    class FakeWorker:
        def __init__(self, data, preset, *, seed=0):
            self.preset, self.closed = preset, False
            self.proc = type("P", (), {"poll": lambda _self: None})()
            started.append(self)

        def use(self, preset):
            self.preset = preset
            return self

        def close(self):
            self.closed = True

    monkeypatch.setattr(speed, "Worker", FakeWorker)
    with WorkerPool(tmp_path / "d.npz") as pool:
        a = pool.get("uint8")
        assert pool.get("xla") is a and a.preset == "xla"
        assert pool.get("plain", role="plain") is not a  # two models alive at once: two workers
        assert pool.get("onednn") is not a and pool.get("fast") is pool.get("onednn")
        assert pool.get("fast+inter1") not in (a, pool.get("fast"))
        assert len(started) == 4
        a.proc.poll = lambda: 1  # a worker that died is replaced, not reused
        assert pool.get("uint8") is not a and len(started) == 5 and a.closed
    assert all(w.closed for w in started)
