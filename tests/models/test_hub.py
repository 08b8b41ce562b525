"""TF Hub on Keras 3: hub_classifier on a local SavedModel (the backbone this project exports), on a
URL served from 127.0.0.1 (SHA-256-checked), offline failure, fine-tuning, and the course's exact
``hub.KerasLayer`` form under tf_keras in a subprocess."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import time

import keras
import numpy as np
import pytest

from signbench.errors import DataError
from signbench.models import backbones as mt
from signbench.testing.local_http import closed_port_url, serve

hub_mod = pytest.importorskip("signbench.models.hub", reason="needs tensorflow_hub")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small backbone with seeded weights, exported as a SavedModel; and a batch + its features."""
    from signbench.train.transfer import export_backbone

    keras.utils.set_random_seed(11)
    bb = mt.small_backbone(seed=5)
    d = export_backbone(bb, tmp_path_factory.mktemp("hub") / "module")
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    return {"dir": d, "x": x, "features": np.asarray(bb(x, training=False)).reshape(8, -1)}


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """The exported SavedModel as a .tar.gz (what ``?tf-hub-format=compressed`` returns), served on
    127.0.0.1; yields (URL, SHA-256)."""
    root = tmp_path_factory.mktemp("www")
    (root / "models" / "small").mkdir(parents=True)
    archive = root / "models" / "small" / "1"
    with tarfile.open(archive, "w:gz") as tar:
        for p in sorted(exported["dir"].rglob("*")):
            tar.add(p, arcname=str(p.relative_to(exported["dir"])), recursive=False)
    with serve(root) as base:
        yield f"{base}/models/small/1", hashlib.sha256(archive.read_bytes()).hexdigest()


def feature_model(clf):
    return keras.Model(clf.input, clf.get_layer("head_flatten").output)


def test_hub_classifier_local_savedmodel(exported):
    from signbench.models import hub_classifier

    clf = hub_classifier(exported["dir"], 5, (28, 28, 1))
    assert type(clf.get_layer("hub_module")).__name__ == "HubModule"
    # Frozen module: only the head trains (128*128+128 + 128*5+5); module weights are tracked.
    head = 128 * 128 + 128 + 128 * 5 + 5
    assert sum(int(np.prod(w.shape)) for w in clf.trainable_weights) == head
    assert clf.count_params() == 92_672 + head
    assert [type(layer).__name__ for layer in clf.layers[-4:]] == ["Flatten", "Dense", "Dropout", "Dense"]
    np.testing.assert_allclose(np.asarray(feature_model(clf)(exported["x"])), exported["features"], atol=1e-6)
    out = clf.predict(exported["x"], verbose=0)
    assert out.shape == (8, 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    # Training the head lowers the loss and leaves the frozen module untouched.
    y = np.arange(8) % 5
    before = clf.evaluate(exported["x"], y, verbose=0, return_dict=True)["loss"]
    clf.fit(exported["x"], y, epochs=10, verbose=0)
    assert clf.evaluate(exported["x"], y, verbose=0, return_dict=True)["loss"] < before
    np.testing.assert_allclose(np.asarray(feature_model(clf)(exported["x"])), exported["features"], atol=1e-6)


def test_hub_classifier_trainable_fine_tunes_the_module(exported):
    from signbench.models import hub_classifier

    clf = hub_classifier(exported["dir"], 5, (28, 28, 1), trainable=True)
    assert sum(int(np.prod(w.shape)) for w in clf.trainable_weights) == clf.count_params()
    clf.fit(exported["x"], np.arange(8) % 5, epochs=2, verbose=0)
    moved = np.asarray(feature_model(clf)(exported["x"]))
    assert np.abs(moved - exported["features"]).max() > 1e-4  # the module's own variables changed


def test_hub_classifier_save_keeps_safe_mode(exported, tmp_path):
    from signbench.models import hub_classifier

    clf = hub_classifier(exported["dir"], 3, (28, 28, 1))
    path = tmp_path / "clf.keras"
    clf.save(path)
    with pytest.raises(ValueError, match="refused in safe mode"):
        keras.saving.load_model(path, safe_mode=True)
    back = keras.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(back.predict(exported["x"], verbose=0), clf.predict(exported["x"], verbose=0), atol=1e-6)


def test_hub_url_download_verified_and_cached(served, exported, tmp_path, monkeypatch):
    url, sha = served
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        hub_mod.resolve_handle(url, sha256="f" * 64)
    assert not list((tmp_path / "cache").rglob("saved_model.pb"))
    clf = hub_mod.hub_classifier(url, 4, (28, 28, 1), sha256=sha)
    np.testing.assert_allclose(np.asarray(feature_model(clf)(exported["x"])), exported["features"], atol=1e-6)
    cached = hub_mod.resolve_handle(url, sha256=sha)
    assert (cached / "saved_model.pb").is_file() and str(cached).startswith(str(tmp_path / "cache"))


def test_hub_url_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path))
    t = time.monotonic()
    with pytest.raises(DataError, match="cannot download the Hub module.*local SavedModel"):
        hub_mod.hub_classifier(closed_port_url("/google/x/1"), 3, (28, 28, 1))
    assert time.monotonic() - t < 30


def test_not_a_savedmodel(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a SavedModel"):
        hub_mod.hub_classifier(tmp_path, 3, (28, 28, 1))


def test_course_keras_layer_form_under_tf_keras(exported):
    """The course's exact ``tf.keras.Sequential([hub.KerasLayer(...), ...])`` runs under tf_keras with
    TF_USE_LEGACY_KERAS=1 (subprocess), trains its head, and sees the same features as Keras 3."""
    res = hub_mod.run_course_keras_layer(exported["dir"], (28, 28, 1), 5, seed=0)
    assert res["keras_module"] == "tf_keras"
    assert res["hub_trainable_weights"] == 0
    assert res["trainable_params"] == 128 * 128 + 128 + 128 * 5 + 5
    assert res["params"] == 92_672 + res["trainable_params"]
    assert res["loss_after"] < res["loss_before"]
    x0 = np.random.default_rng(0).random((32, 28, 28, 1), dtype=np.float32)[:1]
    bb = keras.layers.TFSMLayer(str(exported["dir"]), call_endpoint="serve")
    np.testing.assert_allclose(res["features"], np.asarray(bb(x0)).ravel()[:8], atol=1e-5)


def test_models_package_does_not_import_hub():
    code = (
        "import sys, signbench.models as m; assert 'tensorflow_hub' not in sys.modules; "
        "f = m.hub_classifier; assert 'tensorflow_hub' in sys.modules; print(f.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "signbench.models.hub"
