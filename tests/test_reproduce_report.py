"""Report rendering from plain data: markdown, self-contained HTML, the results table, the charts."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from signbench.data.types import SIGN_LETTERS
from signbench.reproduce import report as rep


def _png_ok(path: Path, min_side: int = 200) -> tuple[int, int]:
    with PILImage.open(path) as im:
        im.verify()
    with PILImage.open(path) as im:
        assert im.format == "PNG"
        assert min(im.size) >= min_side
        arr = np.asarray(im.convert("L"))
    assert arr.std() > 5  # not a blank image
    return im.size


def test_results_table_puts_course_numbers_next_to_ours():
    t = rep.results_table([
        {"name": "baseline", "train_accuracy": 0.99, "val_accuracy": 0.7, "test_accuracy": 0.71, "epochs": 2},
        {"name": "cnn (best checkpoint)", "test_accuracy": 0.9},
        {"name": "tuned", "test_accuracy": 0.8},
    ])
    assert list(t.headers[:7]) == ["model", "train acc", "val acc", "test acc", "course train", "course val",
                                   "course test"]
    assert t.rows[0][:7] == ["baseline", 0.99, 0.7, 0.71, 0.9999, 0.7572, 0.7616]
    assert t.rows[1][6] == 0.8826
    assert t.rows[2][4:7] == [None, None, None]


def test_markdown_and_html_render_the_same_blocks(tmp_path):
    png = rep.class_balance_chart({"A": 3, "B": 5}, tmp_path / "bal.png")
    blocks = [
        rep.Heading("Title", 1),
        rep.Paragraph("text with `code` & <tag>"),
        rep.Table(["model", "acc"], [["cnn", 0.8575], ["a|b", None]]),
        rep.Image("Balance", Path("bal.png")),
    ]
    md = rep.to_markdown(blocks)
    assert "# Title" in md
    assert "| cnn | 0.8575 |" in md and "| a\\|b | - |" in md
    assert "![Balance](bal.png)" in md
    html = rep.to_html(blocks, base=tmp_path)
    assert "<code>code</code> &amp; &lt;tag&gt;" in html
    assert "<td>0.8575</td>" in html
    m = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert m and base64.b64decode(m.group(1)) == png.read_bytes()
    assert "bal.png" not in html  # self-contained: no external image reference


def test_html_fails_loudly_on_a_missing_image(tmp_path):
    with pytest.raises(FileNotFoundError):
        rep.to_html([rep.Image("x", Path("missing.png"))], base=tmp_path)


def test_confusion_matrix_uses_letters_and_counts(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 24, 500)
    pred = np.where(rng.random(500) < 0.8, y, rng.integers(0, 24, 500))
    fig, cm = rep.confusion_figure(y, pred, SIGN_LETTERS, title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == SIGN_LETTERS
    assert [t.get_text() for t in ax.get_yticklabels()] == SIGN_LETTERS
    assert cm.shape == (24, 24) and cm.sum() == 500 and np.trace(cm) == int(np.sum(y == pred))
    assert cm[3, 5] == int(np.sum((y == 3) & (pred == 5)))  # rows are the true class
    path = rep.confusion_chart(y, pred, SIGN_LETTERS, tmp_path / "cm.png", title="t")
    _png_ok(path)


def test_misclassified_grid_and_empty_case(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 24, 40)
    pred = y.copy()
    pred[::3] = (pred[::3] + 1) % 24
    _png_ok(rep.misclassified_grid(images, y, pred, SIGN_LETTERS, tmp_path / "mis.png", max_images=8))
    _png_ok(rep.misclassified_grid(images, y, y, SIGN_LETTERS, tmp_path / "none.png"), min_side=50)


def test_accuracy_latency_and_balance_charts(tmp_path):
    rows = [
        {"model": m, "runtime": rt, "accuracy": a, "latency_ms": lat}
        for m, a in (("baseline", 0.76), ("cnn", 0.86))
        for rt, lat in (("keras (direct call)", 5.0), ("tflite float32", 0.1), ("tflite int8", 0.05))
    ]
    rows.append({"model": "cnn", "runtime": "tflite int8", "accuracy": None, "latency_ms": None})
    _png_ok(rep.accuracy_latency_chart(rows, tmp_path / "al.png", title="acc vs latency"))
    _png_ok(rep.class_balance_chart({c: 100 + i for i, c in enumerate(SIGN_LETTERS)}, tmp_path / "b.png"))
