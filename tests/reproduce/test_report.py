"""Report rendering from plain data: markdown, self-contained HTML, the results table."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from signbench import plots
from signbench.reproduce import report as rep


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
    png = plots.class_balance_chart({"A": 3, "B": 5}, tmp_path / "bal.png")
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


def test_overfitting_story_orders_the_course_models_then_transfer():
    rows = [{"name": "cnn", "train_accuracy": 1.0, "val_accuracy": 0.8},
            {"name": "baseline", "train_accuracy": 0.99, "val_accuracy": 0.7},
            {"name": "tuned", "train_accuracy": 0.9, "val_accuracy": 0.85}]
    story = rep.overfitting_story(rows, {"rows": [{"model": "scratch", "train_accuracy": 0.5, "val_accuracy": 0.4},
                                                  {"model": "transfer", "train_accuracy": 0.6, "val_accuracy": 0.3}]})
    assert [s["label"] for s in story] == ["baseline", "cnn", "transfer (own task)"]
    assert story[0]["course_train"] == 0.9999 and story[1]["val"] == 0.8
    assert (story[2]["train"], story[2]["val"]) == (0.6, 0.3)
    assert rep.overfitting_story(rows, None)[-1]["train"] is None  # no transfer stage: not measured
