"""The results index: the committed results/index.md and index.html are exactly what `signbench results`
renders from the committed tables (charts re-rendered and checked to decode), rendering is deterministic,
and absent tables read "not measured yet" while present ones get their screen."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from signbench.cli import main
from signbench.review import index
from signbench.testing.contracts import check_png

RESULTS = Path(__file__).resolve().parents[2] / "results"
STALE = "results/index.md is stale: run `signbench results` and commit results/index.md, index.html, index/"


def test_committed_index_is_what_signbench_results_renders(tmp_path):
    assert (RESULTS / "index.md").is_file(), STALE
    written = index.render(RESULTS, tmp_path)
    assert (tmp_path / "index.md").read_text() == (RESULTS / "index.md").read_text(), STALE
    assert (tmp_path / "index.html").read_bytes() == (RESULTS / "index.html").read_bytes(), STALE
    charts = sorted(p.name for p in written if p.suffix == ".png")
    assert charts == sorted(p.name for p in (RESULTS / index.CHARTS).glob("*.png")), STALE
    for p in written:
        if p.suffix == ".png":
            check_png(p)  # re-rendered: its pixels may differ from the committed PNG's between matplotlib versions
    md = (tmp_path / "index.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", md):  # every link and image of the page resolves
        assert (RESULTS / target).exists(), target


def test_rendering_twice_gives_the_same_bytes(tmp_path):
    a, b = index.render(RESULTS, tmp_path / "a"), index.render(RESULTS, tmp_path / "b")
    for pa, pb in zip(a, b, strict=True):
        assert pa.name == pb.name and pa.read_bytes() == pb.read_bytes(), pa.name
    assert not re.search(r"rendered (on|at) \d{4}", (tmp_path / "a" / "index.md").read_text(), re.IGNORECASE)


def test_a_changed_table_changes_the_index(tmp_path):
    """The committed-index test can fail: one number changed in a table changes the page."""
    src = tmp_path / "results"
    shutil.copytree(RESULTS, src, ignore=shutil.ignore_patterns("raw", "index", "index.*"))
    rows = list(csv.DictReader((src / "course_reproduction.csv").read_text().splitlines()))
    rows[0]["val_accuracy"] = "0.123456"
    with (src / "course_reproduction.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    index.render(src)
    assert (src / "index.md").read_text() != (RESULTS / "index.md").read_text()
    assert "| baseline | 1.0000 | 0.1235 |" in (src / "index.md").read_text()


CLAIM_COLUMNS = (
    "claim statement translation section source metric arm_a arm_b kind direction min_effect n_seeds effect_mean "
    "ci_low ci_high verdict protocol family values_a values_b note date git_commit device cpu cpu_flags backend "
    "tensorflow keras threads onednn"
).split()


def _claim(claim, metric, arm_a, arm_b, mean, lo, hi, verdict, values_a="", values_b=""):
    meta = {"date": "2026-12-01T10:00:00+00:00", "git_commit": "abc123", "device": "AMD EPYC", "cpu": "AMD EPYC",
            "cpu_flags": "avx2 fma", "backend": "tensorflow", "tensorflow": "2.21.0", "keras": "3.15.1",
            "threads": "2", "onednn": "on"}
    return {**dict.fromkeys(CLAIM_COLUMNS, ""), **meta, "claim": claim, "statement": f"{claim} (es)",
            "translation": f"{claim} (en)", "metric": metric, "arm_a": arm_a, "arm_b": arm_b, "min_effect": "0.02",
            "n_seeds": "3", "effect_mean": mean, "ci_low": lo, "ci_high": hi, "verdict": verdict,
            "values_a": values_a, "values_b": values_b}


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def test_screens_render_present_tables_and_say_what_is_not_measured_yet(tmp_path, capsys):
    d = tmp_path / "results"
    d.mkdir()
    shutil.copy(RESULTS / "course_reproduction.csv", d)
    _write(d / "claims_ci.csv", [
        _claim("regularized-gap", "gap", "regularized", "baseline", "-0.05", "-0.08", "-0.02", "holds"),
        _claim("transfer-train", "train_accuracy", "transfer", "scratch", "0.01", "0.0", "0.02", "does not hold",
               "0.97 0.99 0.98", "0.96 0.97 0.99"),
        _claim("transfer-val", "val_accuracy", "transfer", "scratch", "0.1", "0.05", "0.15", "holds",
               "0.60;0.62;0.64", "0.5;0.5;0.5"),
    ])
    _write(d / "speedrun.csv", [{"recipe": "fast", "target_accuracy": "0.99", "seconds": "120.5"},
                                {"recipe": "plain", "target_accuracy": "0.99", "seconds": "400"}])
    assert main(["results", "--results-dir", str(d)]) == 0
    assert str(d / "index.md") in capsys.readouterr().out
    md = (d / "index.md").read_text()
    assert "regularized-gap (en)" in md and "| -0.05 [-0.08, -0.02] |" in md
    assert "CI protocol: 2 holds, 1 does not hold" in md
    assert "`claims_full.csv` is not in this folder yet" in md  # the full protocol: not measured yet
    assert "| transfer | 0.9800 | 0.6200 | 0.3600 |" in md  # the overfitting story's transfer from the claims
    assert "| fast | 0.99 | 120.5 |" in md
    for absent in ("pareto.csv", "cpu.csv", "train_speed.csv", "gpu.csv"):
        assert f"`{absent}`" in md and index.NOT_YET in md
    charts = {p.name for p in (d / "index").glob("*.png")}
    assert {"claims_ci.png", "overfitting.png", "speedrun.png"} <= charts
    for p in (d / "index").glob("*.png"):
        check_png(p)
    html = (d / "index.html").read_text()
    assert html.count("<table>") == md.count("\n|---") and 'src="index/claims_ci.png"' in html
    assert 'id="1-do-the-courses-claims-hold"' in html and 'href="#1-do-the-courses-claims-hold"' in html
    # a chart the data no longer asks for is removed at the next rendering
    (d / "speedrun.csv").unlink()
    index.render(d)
    assert not (d / "index" / "speedrun.png").exists()
    assert main(["results", "--results-dir", str(tmp_path / "nowhere")]) == 2


@pytest.mark.parametrize("text, expected", [
    ("1. Do the course's claims hold?", "1-do-the-courses-claims-hold"),
    ("7. CPU against GPU: how much does the accelerator buy?", "7-cpu-against-gpu-how-much-does-the-accelerator-buy"),
])
def test_anchors_match_the_markdown_renderers(text, expected):
    import markdown

    assert index.slug(text) == expected
    html = markdown.markdown(f"## {text}", extensions=["toc"])
    assert f'id="{expected}"' in html
