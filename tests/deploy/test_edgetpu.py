"""Edge TPU readiness, and the compiler / delegate used only where present (else a reason)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from signbench.deploy import convert, representative_sample, save  # noqa: E402
from signbench.deploy.edgetpu import compile_model, load_delegate, readiness  # noqa: E402
from signbench.models import build  # noqa: E402


@pytest.fixture(scope="module")
def cnn_and_rep():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (32, 28, 28, 1), dtype=np.uint8)
    return build("cnn"), representative_sample(images, 32, seed=0)


def test_int8_batch1_cnn_is_ready(cnn_and_rep):
    model, rep = cnn_and_rep
    r = readiness(convert(model, "int8", representative=rep, batch_size=1))
    assert r.ready, r.reasons
    assert "CONV_2D" in r.ops and "FULLY_CONNECTED" in r.ops
    assert str(r) == "ready for the Edge TPU"


def test_float_dynamic_model_names_every_reason(cnn_and_rep):
    model, _ = cnn_and_rep
    r = readiness(convert(model, "float32"))
    assert not r.ready
    text = str(r)
    assert "non-int8 tensor images (float32)" in text
    assert "dynamic shape [-1, 28, 28, 1] of tensor images" in text
    assert "unsupported op SHAPE" in text  # the dynamic batch makes Flatten compute its shape at run time
    # The 4-D conv kernel is a constant: not a >3-D activation problem.
    assert "outside the 3 innermost" not in text


def test_batch_above_one_flags_4d_activations(cnn_and_rep):
    model, rep = cnn_and_rep
    r = readiness(convert(model, "int8", representative=rep, batch_size=4))
    assert any("4 dimensions with size > 1 outside the 3 innermost [4, 26, 26, 75]" in s for s in r.reasons), r
    assert not any("non-int8" in s for s in r.reasons)


def test_unsupported_op_is_named():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    x = keras.layers.Dense(4)(inputs)
    x = keras.layers.Lambda(lambda t: keras.ops.exp(t))(x)
    model = keras.Model(inputs, x)
    r = readiness(convert(model, "float32", batch_size=1))
    assert "unsupported op EXP" in r.reasons


def test_compiler_absent_gives_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    c = compile_model(tmp_path / "m.tflite", tmp_path / "out")
    assert c.path is None and "edgetpu_compiler not found on PATH" in c.skipped_reason


def _fake_compiler(bin_dir, body):
    bin_dir.mkdir()
    exe = bin_dir / "edgetpu_compiler"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_compiler_on_path_is_invoked(tmp_path, monkeypatch, cnn_and_rep):
    model, rep = cnn_and_rep
    src = save(convert(model, "int8", representative=rep, batch_size=1), tmp_path / "cnn.tflite")
    # A stand-in compiler: records its arguments, writes <stem>_edgetpu.tflite into the -o folder.
    _fake_compiler(tmp_path / "bin", 'echo "$@" > "$3/args"; cp "$4" "$3/cnn_edgetpu.tflite"\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    c = compile_model(src, tmp_path / "out")
    assert c.skipped_reason is None and c.path == tmp_path / "out" / "cnn_edgetpu.tflite"
    assert (tmp_path / "out" / "args").read_text().split() == ["-s", "-o", str(tmp_path / "out"), str(src)]


def test_failing_compiler_raises(tmp_path, monkeypatch):
    _fake_compiler(tmp_path / "bin", 'echo "model not quantized" >&2; exit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(RuntimeError, match="model not quantized"):
        compile_model(tmp_path / "m.tflite", tmp_path / "out")


def test_missing_delegate_gives_reason():
    delegate, why = load_delegate("libedgetpu-definitely-absent.so.1")
    assert delegate is None
    assert "libedgetpu-definitely-absent.so.1 did not load" in why
