"""TFLite conversion (float32 / float16 / dynamic / int8) and the LiteRT runtime."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from signbench.deploy import MODES, LiteModel, Predictor, convert, representative_sample, save  # noqa: E402
from signbench.deploy.runtime import dequantize, quantize  # noqa: E402
from signbench.models import build  # noqa: E402

#: float32 TFLite vs Keras: explicit tolerance from the issue.
F32_ATOL = 1e-5


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def cnn_model():
    keras.utils.set_random_seed(0)
    return build("cnn")


@pytest.fixture(scope="module")
def flatbuffers(cnn_model):
    rep = representative_sample(_images(64, 1), 32, seed=0)
    return {mode: convert(cnn_model, mode, representative=rep) for mode in MODES}


@pytest.mark.parametrize("name", ["baseline", "cnn"])
def test_float32_matches_keras(name):
    keras.utils.set_random_seed(1)
    model = build(name)
    x = _images(16, 2).astype(np.float32) / 255
    ref = keras.ops.convert_to_numpy(model(x, training=False))
    out = LiteModel(convert(model, "float32"), num_threads=1).run(x)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=F32_ATOL)


def test_modes_differ_as_documented(flatbuffers, cnn_model):
    sizes = {m: len(b) for m, b in flatbuffers.items()}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["dynamic"] < 0.3 * sizes["float32"]
    assert sizes["int8"] < 0.3 * sizes["float32"]
    lite = LiteModel(flatbuffers["int8"])
    assert lite.input["dtype"] == np.int8 and lite.output["dtype"] == np.int8
    scale, zero = lite.input["quantization"]
    assert scale == pytest.approx(1 / 255, rel=1e-3) and zero == -128  # calibrated on [0, 1] pixels
    for mode in ("float32", "float16", "dynamic"):
        assert LiteModel(flatbuffers[mode]).input["dtype"] == np.float32


@pytest.mark.parametrize("mode,atol", [("float16", 1e-3), ("dynamic", 2e-2), ("int8", 2e-2)])
def test_quantized_modes_close_to_keras(flatbuffers, cnn_model, mode, atol):
    x = _images(32, 3).astype(np.float32) / 255
    ref = keras.ops.convert_to_numpy(cnn_model(x, training=False))
    out = LiteModel(flatbuffers[mode], num_threads=1).run(x)
    np.testing.assert_allclose(out, ref, rtol=0, atol=atol)


def test_batch_resize_and_threads(flatbuffers):
    x = _images(7, 4).astype(np.float32) / 255
    one = LiteModel(flatbuffers["float32"], num_threads=1)
    two = LiteModel(flatbuffers["float32"], num_threads=2)
    batch = one.run(x)
    assert batch.shape == (7, 24)
    singles = np.concatenate([one.run(x[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(singles, batch, rtol=0, atol=1e-6)
    np.testing.assert_allclose(two.run(x), batch, rtol=0, atol=1e-6)


def test_int8_needs_representative_data(cnn_model):
    with pytest.raises(ValueError, match="representative"):
        convert(cnn_model, "int8")
    with pytest.raises(ValueError, match="unknown mode"):
        convert(cnn_model, "int4")


def test_representative_sample_is_seeded():
    images = _images(500, 5)
    a = representative_sample(images, 50, seed=7)
    b = representative_sample(images, 50, seed=7)
    c = representative_sample(images, 50, seed=8)
    assert a.dtype == np.float32 and a.shape == (50, 28, 28, 1)
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(representative_sample(images, 10_000, seed=0)) == 500
    with pytest.raises(ValueError):
        representative_sample(images[:0], 5, seed=0)


def test_quantize_roundtrip_int8():
    detail = {"dtype": np.int8, "quantization": (1 / 255, -128)}
    pixels = np.arange(256, dtype=np.uint8)
    q = quantize(pixels / 255.0, detail)
    np.testing.assert_array_equal(q.view(np.uint8), pixels ^ 0x80)  # p/255 -> p - 128 exactly
    np.testing.assert_allclose(dequantize(q, detail), pixels / 255.0, atol=1e-6)


def test_save_is_atomic(tmp_path, flatbuffers, monkeypatch):
    path = save(flatbuffers["int8"], tmp_path / "m" / "cnn_int8.tflite")
    assert path.read_bytes() == flatbuffers["int8"]
    import os

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save(b"new", path)
    assert path.read_bytes() == flatbuffers["int8"]  # old file intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["cnn_int8.tflite"]  # no temp left


@pytest.mark.realdata
def test_int8_accuracy_within_one_point_on_real_test_csv(realdata, record_property):
    """Course CNN, 1 epoch on the real train CSV (seed 0), int8 calibrated on 256 real training images."""
    from signbench.data import load_sign_mnist

    train, test = load_sign_mnist("train", realdata), load_sign_mnist("test", realdata)
    keras.utils.set_random_seed(0)
    model = build("cnn")
    model.fit(train.as_float(), train.labels, batch_size=128, epochs=1, verbose=0)
    x_test = test.as_float()
    acc_float = float((model.predict(x_test, batch_size=512, verbose=0).argmax(1) == test.labels).mean())
    flat = convert(model, "int8", representative=representative_sample(train.images, 256, seed=0))
    acc_int8 = Predictor(flat, num_threads=2).accuracy(test.images, test.labels)
    drop = acc_float - acc_int8
    record_property("float_accuracy", acc_float)
    record_property("int8_accuracy", acc_int8)
    print(f"real test CSV: float {acc_float:.4f}, int8 {acc_int8:.4f}, drop {100 * drop:+.2f} points")
    assert acc_float > 0.5  # the model learned something, so the comparison means something
    assert abs(drop) <= 0.01, (acc_float, acc_int8)
