"""The results index: the committed results/index.md and index.html are exactly what `signbench results`
renders from the committed tables (charts re-rendered and checked to decode), rendering is deterministic,
and absent tables read "not measured yet" while present ones get their screen."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from signbench.cli import main
from signbench.review import index
from signbench.testing.contracts import check_png

RESULTS = Path(__file__).resolve().parents[2] / "results"
STALE = "results/index.md is stale: run `signbench results` and commit results/index.md, index.html, index/"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(folder, files written) of one rendering of the committed results (two tests read it)."""
    out = tmp_path_factory.mktemp("rendered")
    return out, index.render(RESULTS, out)


def test_committed_index_is_what_signbench_results_renders(rendered):
    assert (RESULTS / "index.md").is_file(), STALE
    out, written = rendered
    assert (out / "index.md").read_text() == (RESULTS / "index.md").read_text(), STALE
    assert (out / "index.html").read_bytes() == (RESULTS / "index.html").read_bytes(), STALE
    charts = sorted(p.name for p in written if p.suffix == ".png")
    assert charts == sorted(p.name for p in (RESULTS / index.CHARTS).glob("*.png")), STALE
    for p in written:
        if p.suffix == ".png":
            check_png(p)  # re-rendered: its pixels may differ from the committed PNG's between matplotlib versions
    md = (out / "index.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", md):  # every link and image of the page resolves
        assert (RESULTS / target).exists(), target


def test_rendering_twice_gives_the_same_bytes(rendered, tmp_path):
    first, a = rendered
    b = index.render(RESULTS, tmp_path)
    for pa, pb in zip(a, b, strict=True):
        assert pa.name == pb.name and pa.read_bytes() == pb.read_bytes(), pa.name
    assert not re.search(r"rendered (on|at) \d{4}", (first / "index.md").read_text(), re.IGNORECASE)


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
    (d / "claims_ci.json").write_text(json.dumps({"size": "ci", "command": "signbench claims --size ci --out DIR"}))
    from signbench.studies import speedrun

    rows = [{"seed": s, "recipe": "A", "epochs": 6, "test_accuracy": 0.9971, "test_accuracy_one_view": 0.996,
             "int8_test_accuracy": 0.9955, "train_seconds": 120.5, "reference_seconds": 400.0, "ratio": 120.5 / 400}
            for s in range(5)]
    ref = {"model": "cnn (course, reference)", "epochs": 20, "batch_size": 128, "train_seconds": 400.0,
           "test_accuracy": 0.91}
    lat = [{"seed": 0, "model": "speednet int8 (seed 0)", "runtime": "LiteRT int8 via Predictor", "p50_us": 40.0,
            "p99_us": 60.0}, {"seed": 0, "model": speedrun.REFERENCE_INT8, "runtime": "LiteRT int8 via Predictor", "p50_us": 160.0,
                              "p99_us": 200.0}]
    speedrun.write(d, speedrun.Speedrun(rows, ref, lat), command="signbench speedrun --out results")
    # a rung's named run whose latency rows have every thread count: the table shows each model's best
    lat2 = [{**r, "interpreter_threads": t, "best": t == 1, "p50_us": r["p50_us"] * t, "p99_us": r["p99_us"] * t}
            for r in lat for t in (1, 2)]
    speedrun.write(d, speedrun.Speedrun(rows, ref, lat2), command="signbench speedrun --stem speedrun_rung_e_threads",
                   stem="speedrun_rung_e_threads")
    val = {"A": speedrun.Speedrun([{**r, "test_accuracy": 0.99} for r in rows], ref)}
    speedrun.write_validation(d, {"runs": val, "recipes": {"A": speedrun.RUNGS[0]}, "chosen": None, "parts": {
        "train": 80, "validation": 20, "groups": 50, "held_groups": 10}}, command="signbench speedrun --validate")
    # a round with the twin condition (round 4 on): the index names it beside the pick
    twin_lat = [{**r, "rounds": 100, "best": True} for r in (
        {**lat[0], "model": "A"}, {**lat[0], "model": "A" + speedrun.TWIN_SUFFIX, "p50_us": 45.0}, lat[1])]
    speedrun.write_validation(d, {"runs": val, "recipes": {"A": speedrun.RUNGS[0]}, "chosen": None, "parts": {
        "train": 80, "validation": 20, "groups": 50, "held_groups": 10}, "latency": twin_lat, "deployable": "A",
        "twins": True}, command="signbench speedrun --validate --round 4", stem="speedrun_validation_4")
    assert main(["results", "--results-dir", str(d)]) == 0
    assert str(d / "index.md") in capsys.readouterr().out
    md = (d / "index.md").read_text()
    assert "regularized-gap (en)" in md and "| -0.05 [-0.08, -0.02] |" in md
    assert "CI protocol: 2 holds, 1 does not hold" in md
    assert "produced by: `signbench claims --size ci --out DIR`" in md  # a claims table's command, from its JSON
    assert "`claims_full.csv` is not in this folder yet" in md  # the full protocol: not measured yet
    assert "| transfer | 0.9800 | 0.6200 | 0.3600 |" in md  # the overfitting story's transfer from the claims
    assert "| 0 | 6 | 0.9971 | 0.9960 | 0.9955 | 120.5 | 0.301 |" in md
    assert "| reference: cnn (course, reference) | 20 | 0.9100 | - | - | 400 | 1 |" in md
    assert "met: True" in md and "time <= 0.10x: False; <= 0.25x: False" in md and "| 0.25, 0.3 |" in md
    # the latency table has no JSON of its own: its command is its study's
    assert "(speedrun_latency.md)), produced by: `signbench speedrun --out results`" in md
    assert "The speedrun recipe, rung E (threads), against the course CNN" in md
    assert "| speednet int8 (seed 0) | LiteRT int8 via Predictor | 1 | 40 | 60 | 0.25, 0.3 |" in md
    assert "| speednet int8 (seed 0) | LiteRT int8 via Predictor | default | 40 | 60 | 0.25, 0.3 |" in md
    assert "10 of 50 near-duplicate groups" in md and "none (no candidate within 0.25x the reference)" in md
    assert "| A | 0.9900 | 0.9900 | 0.301 | rung A:" in md and "`signbench speedrun --validate`" in md
    assert ("round 4" in md and "Deployable model (the declared latency bar, int8 faster than its own "
            "dynamic-range twin, then the best worst-seed int8 accuracy): A." in md)
    # round 1's has no twin condition: the plain wording
    assert "Deployable model (the declared latency bar, then the best worst-seed int8 accuracy): none" in md
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


def test_the_pareto_front_screen_lists_the_front_and_the_deployable_model(tmp_path):
    d = tmp_path / "results"
    d.mkdir()
    pts = [("cnn", "keras", "False", "", 0.91, 900.0), ("cnn", "tflite int8", "False", "", 0.90, 160.0),
           ("speedrun", "tflite int8", "True", "True", 0.997, 60.0), ("baseline", "tflite int8", "True", "", 0.70, 20.0),
           ("speedrun", "keras", "False", "", 0.997, 700.0)]
    _write(d / "pareto.csv", [{"model": m, "runtime": rt, "on_front": f, "deployable": dep, "params": 1000,
                               "size_bytes": 5000, "test_accuracy": a, "p50_us": p, "p99_us": p * 1.5}
                              for m, rt, f, dep, a, p in pts])
    index.render(d)
    md = (d / "index.md").read_text()
    assert "The 2 points on the front" in md and "of 5 measured" in md
    assert "| baseline | tflite int8 | yes |  |" in md and "| speedrun | tflite int8 | yes | yes |" in md
    assert "| cnn | keras |" not in md  # off the front and not deployable: only in the chart
    check_png(d / "index" / "pareto.png")


def test_a_runs_line_gives_the_span_of_many_dates_and_every_one_of_two():
    rows = [{"git_commit": "abc", "date": d, "device": "cpu", "backend": "tensorflow", "threads": 2}
            for d in ("2026-12-02T16:10", "2026-12-02T16:08", "2026-12-02T16:27")]
    assert "`abc`, 2026-12-02T16:08 to 2026-12-02T16:27, device cpu" in index._run_line(rows)
    assert "2026-12-02T16:08, 2026-12-02T16:10, device" in index._run_line(rows[:2])
